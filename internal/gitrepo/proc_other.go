//go:build !unix

package gitrepo

import (
	"os/exec"
	"time"
)

// killGroup bounds the wait for the output pipes of a cancelled command,
// which git's transport helper may still hold.
func killGroup(cmd *exec.Cmd) { cmd.WaitDelay = 5 * time.Second }
