# Built-in rules of validate-config. input.object is one Kubernetes
# object; input.related holds the objects that select it or that it
# selects (PDBs, Services, HPAs, workloads), found by the caller.
package gitops.builtin

import rego.v1

obj := input.object

kind := obj.kind

pod_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_path := ["spec"] if kind == "Pod"

pod_path := ["spec", "jobTemplate", "spec", "template", "spec"] if kind == "CronJob"

pod_path := ["spec", "template", "spec"] if kind in pod_kinds

pod_spec := object.get(obj, pod_path, {})

containers contains c if {
	some field in ["initContainers", "containers"]
	some i, ctr in object.get(pod_spec, field, [])
	c := {"c": ctr, "field": field, "path": array.concat(pod_path, [field, format_int(i, 10)])}
}

replicas := object.get(obj, ["spec", "replicas"], 1)

# GA-PDB-MISSING
finding contains f if {
	kind in {"Deployment", "StatefulSet"}
	count(object.get(input, ["related", "pdbs"], [])) == 0
	scaled
	f := {"rule": "GA-PDB-MISSING", "severity": "warning", "path": ["spec", "replicas"], "msg": sprintf("%s has %s but no PodDisruptionBudget selects its pods: a node drain may take them all down at once", [kind, scale_reason])}
}

scaled if replicas >= 2

scaled if count(object.get(input, ["related", "hpas"], [])) > 0

scale_reason := sprintf("%v replicas", [replicas]) if replicas >= 2

else := "a HorizontalPodAutoscaler"

# GA-PDB-BLOCKS-DRAIN
finding contains f if {
	kind == "PodDisruptionBudget"
	mu := obj.spec.maxUnavailable
	mu in {0, "0%", "0"}
	f := {"rule": "GA-PDB-BLOCKS-DRAIN", "severity": "error", "path": ["spec", "maxUnavailable"], "msg": "maxUnavailable 0 allows no disruption: node drains will block forever"}
}

finding contains f if {
	kind == "PodDisruptionBudget"
	obj.spec.minAvailable == "100%"
	f := {"rule": "GA-PDB-BLOCKS-DRAIN", "severity": "error", "path": ["spec", "minAvailable"], "msg": "minAvailable 100% allows no disruption: node drains will block forever"}
}

finding contains f if {
	kind == "PodDisruptionBudget"
	min := obj.spec.minAvailable
	is_number(min)
	some w in object.get(input, ["related", "workloads"], [])
	w.kind in {"Deployment", "StatefulSet", "ReplicaSet"}
	r := object.get(w, ["spec", "replicas"], 1)
	min >= r
	f := {"rule": "GA-PDB-BLOCKS-DRAIN", "severity": "error", "path": ["spec", "minAvailable"], "msg": sprintf("minAvailable %v is not below the %v replica(s) of %s/%s: node drains will block", [min, r, w.kind, w.metadata.name])}
}

# GA-PRESTOP-MISSING
finding contains f if {
	count(object.get(input, ["related", "services"], [])) > 0
	some c in containers
	c.field == "containers"
	not c.c.lifecycle.preStop
	svc := input.related.services[0].metadata.name
	f := {"rule": "GA-PRESTOP-MISSING", "severity": "warning", "path": c.path, "msg": sprintf("container %q is behind Service %q but has no lifecycle.preStop: requests in flight fail while endpoints update", [c.c.name, svc])}
}

shells := {"sh", "/bin/sh", "bash", "/bin/bash", "sleep", "/bin/sleep", "/usr/bin/sleep", "ash", "/bin/ash"}

shell_less(image) if regex.match(`(^|/)(distroless|scratch)(/|:|@|$)|(^|/)static(:|@|$)|distroless`, image)

# GA-PRESTOP-NO-SHELL
finding contains f if {
	some c in containers
	cmd := c.c.lifecycle.preStop.exec.command
	cmd[0] in shells
	shell_less(c.c.image)
	f := {"rule": "GA-PRESTOP-NO-SHELL", "severity": "error", "path": array.concat(c.path, ["lifecycle", "preStop", "exec"]), "msg": sprintf("container %q runs %q in preStop but image %q has no shell or sleep binary: use lifecycle.preStop.sleep", [c.c.name, cmd[0], c.c.image])}
}

prestop_sleep(c) := c.lifecycle.preStop.sleep.seconds

prestop_sleep(c) := to_number(cmd[1]) if {
	cmd := c.lifecycle.preStop.exec.command
	cmd[0] in {"sleep", "/bin/sleep", "/usr/bin/sleep"}
	count(cmd) == 2
	regex.match(`^[0-9]+$`, cmd[1])
}

prestop_sleep(c) := to_number(m[1]) if {
	cmd := c.lifecycle.preStop.exec.command
	cmd[0] in shells
	script := cmd[count(cmd) - 1]
	m := regex.find_all_string_submatch_n(`sleep\s+([0-9]+)`, script, 1)[0]
}

# GA-GRACE-TOO-SHORT
finding contains f if {
	some c in containers
	s := prestop_sleep(c.c)
	grace := object.get(pod_spec, "terminationGracePeriodSeconds", 30)
	grace <= s
	f := {"rule": "GA-GRACE-TOO-SHORT", "severity": "error", "path": array.concat(c.path, ["lifecycle", "preStop"]), "msg": sprintf("terminationGracePeriodSeconds %v is not longer than container %q's preStop sleep of %vs: the pod is killed before it stops cleanly", [grace, c.c.name, s])}
}

# GA-INGRESS-TO-GATEWAY
finding contains f if {
	kind == "Ingress"
	f := {"rule": "GA-INGRESS-TO-GATEWAY", "severity": "notice", "path": [], "msg": "Ingress: the Gateway API (Gateway + HTTPRoute) replaces it"}
}

# GA-PLAINTEXT-SECRET
finding contains f if {
	kind == "Secret"
	some field in ["data", "stringData"]
	count(object.get(obj, field, {})) > 0
	f := {"rule": "GA-PLAINTEXT-SECRET", "severity": "error", "path": [field], "msg": sprintf("Secret with %s is committed in plain text: use an ExternalSecret (or a sealed/encrypted secret)", [field])}
}

# GA-IMAGE-NOT-PINNED
image_tag(image) := tag if {
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}

finding contains f if {
	some c in containers
	image := c.c.image
	not contains(image, "@")
	not image_tag(image)
	f := {"rule": "GA-IMAGE-NOT-PINNED", "severity": "error", "path": array.concat(c.path, ["image"]), "msg": sprintf("image %q has no tag or digest: it means :latest", [image])}
}

finding contains f if {
	some c in containers
	image_tag(c.c.image) == "latest"
	f := {"rule": "GA-IMAGE-NOT-PINNED", "severity": "error", "path": array.concat(c.path, ["image"]), "msg": sprintf("image %q uses :latest", [c.c.image])}
}

finding contains f if {
	some c in containers
	tag := image_tag(c.c.image)
	tag != "latest"
	f := {"rule": "GA-IMAGE-NOT-PINNED", "severity": "notice", "path": array.concat(c.path, ["image"]), "msg": sprintf("image %q is pinned by tag only: add @sha256 digest so it cannot change under you", [c.c.image])}
}

# GA-RESOURCES-MISSING
finding contains f if {
	some c in containers
	some r in ["cpu", "memory"]
	not c.c.resources.requests[r]
	f := {"rule": "GA-RESOURCES-MISSING", "severity": "warning", "path": c.path, "msg": sprintf("container %q has no %s request", [c.c.name, r])}
}

# GA-RUN-AS-ROOT
non_root(sc) if sc.runAsNonRoot == true

non_root(sc) if sc.runAsUser > 0

finding contains f if {
	some c in containers
	not non_root(object.get(c.c, "securityContext", {}))
	not pod_non_root(c.c)
	f := {"rule": "GA-RUN-AS-ROOT", "severity": "warning", "path": c.path, "msg": sprintf("container %q may run as root: set securityContext.runAsNonRoot", [c.c.name])}
}

# The pod's setting applies unless the container overrides it.
pod_non_root(c) if {
	non_root(object.get(pod_spec, "securityContext", {}))
	not object.get(c, ["securityContext", "runAsNonRoot"], true) == false
	not object.get(c, ["securityContext", "runAsUser"], 1) == 0
}
