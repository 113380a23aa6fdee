// Command crasher is a command wired as cmd/*/main.go are, whose work
// crashes the Go runtime as CRASHER says; the start test builds it.
package main

import (
	"fmt"
	"os"

	"github.com/gitops-actions/gitops-actions/internal/action"
	_ "github.com/gitops-actions/gitops-actions/internal/supervisor/start"
)

func recurse(n int) int { return recurse(n+1) + 1 }

func main() {
	os.Exit(action.Supervise("scan", os.Args, os.Environ(), func() int {
		fmt.Fprintln(os.Stderr, "working")
		switch os.Getenv("CRASHER") {
		case "stack":
			return recurse(0)
		case "goroutine":
			done := make(chan struct{})
			go func() { panic("token s3cr3t-in-panic leaked") }()
			<-done
		case "exit":
			return 1
		}
		fmt.Println("pid", os.Getpid())
		return 0
	}))
}
