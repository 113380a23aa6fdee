//go:build unix

package gitrepo

import (
	"os/exec"
	"syscall"
	"time"
)

// killGroup makes a cancelled command kill git's whole process group:
// git-remote-http holds the connection and the output pipes, and killing
// git alone would leave it, and the caller's Wait, hanging.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}
