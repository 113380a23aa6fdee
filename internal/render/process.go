package render

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"runtime/debug"
	"strconv"
)

// A render process is this same binary started by a Runner with childEnv
// set. It is recognised here, before main, because every binary that
// renders (validate-config, pipeline, their test binaries) must serve it
// and none of them may parse its own arguments first.
func init() {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(serve(v, os.Stdin, os.Stdout))
	}
}

// serve answers requests until stdin closes.
func serve(memory string, in io.Reader, out io.Writer) int {
	limit, err := strconv.ParseInt(memory, 10, 64)
	if err != nil || limit <= 0 {
		fmt.Fprintf(os.Stderr, "render process: bad memory limit %q\n", memory)
		return 2
	}
	// The hard limit makes a runaway allocation fail in this process; the
	// soft one makes the collector work before that.
	if err := limitMemory(limit); err != nil {
		fmt.Fprintf(os.Stderr, "render process: %v\n", err)
		return 2
	}
	debug.SetMemoryLimit(limit - limit/4)
	logs := &capped{max: 64 << 10}
	log.SetOutput(logs)
	if err := writeFrame(out, hello{Ready: true}); err != nil {
		return 1
	}
	for served := 0; ; served++ {
		var req request
		if err := readFrame(in, 1<<20, &req); err != nil {
			if errors.Is(err, io.EOF) && served > 0 {
				return 0
			}
			// A Runner starts a process only to send it a unit: this one
			// was started some other way and must not pass for the action.
			fmt.Fprintf(os.Stderr, "%s is set but no render request came: %v\n", childEnv, err)
			return 3
		}
		resp := handle(req)
		resp.Log = logs.Take()
		frame, err := encodeFrame(resp)
		if err == nil && int64(len(frame)) > replyCap(req.MaxBytes) {
			frame, err = encodeFrame(response{OverSize: true, Err: fmt.Sprintf("rendered output and its template sources are %s, over twice render-max-bytes (%s)", mib(int64(len(frame))), mib(req.MaxBytes))})
		}
		if err != nil {
			frame, err = encodeFrame(response{Err: fmt.Sprintf("encoding the rendered output: %v", err)})
		}
		if err != nil {
			return 1
		}
		if _, err := out.Write(frame); err != nil {
			return 1
		}
	}
}

func handle(req request) (resp response) {
	defer func() {
		if r := recover(); r != nil {
			resp = response{Err: fmt.Sprintf("rendering failed: %v", r)}
		}
	}()
	var size int64
	switch req.Kind {
	case "helm":
		ts, err := Helm(req.Dir, req.ValuesFiles, req.KubeVersion)
		if err != nil {
			return response{Err: err.Error()}
		}
		for _, t := range ts {
			size += int64(len(t.Rendered))
		}
		resp.Templates = ts
	case "kustomize":
		objs, err := Kustomize(req.Dir)
		if err != nil {
			return response{Err: err.Error()}
		}
		for _, o := range objs {
			size += int64(len(o.YAML))
		}
		resp.Objects = objs
	default:
		return response{Err: fmt.Sprintf("unknown render kind %q", req.Kind)}
	}
	if size > req.MaxBytes {
		return response{OverSize: true, Err: fmt.Sprintf("rendered output is %s, over render-max-bytes (%s)", mib(size), mib(req.MaxBytes))}
	}
	return resp
}

func mib(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
