# The policies both sides of bench/validate.sh evaluate: conftest runs
# them alone, validate-config runs them beside its built-in rules.
package main

containers contains c if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet"}
	some c in input.spec.template.spec.containers
}

deny contains msg if {
	some c in containers
	endswith(c.image, ":latest")
	msg := sprintf("container %s uses :latest", [c.name])
}

deny contains msg if {
	input.kind == "Secret"
	count(object.get(input, "data", {})) > 0
	msg := "plaintext Secret"
}

deny contains msg if {
	input.kind == "PodDisruptionBudget"
	input.spec.maxUnavailable == 0
	msg := "PDB blocks drains"
}

warn contains msg if {
	some c in containers
	not c.resources.requests.cpu
	msg := sprintf("container %s has no cpu request", [c.name])
}

warn contains msg if {
	some c in containers
	not c.lifecycle.preStop
	msg := sprintf("container %s has no preStop", [c.name])
}

warn contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := "pod may run as root"
}

warn contains msg if {
	input.kind == "Ingress"
	msg := "use the Gateway API"
}
