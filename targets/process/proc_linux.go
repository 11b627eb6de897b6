package process

import "syscall"

// procAttr puts the process in a group of its own, so Stop can end it with
// everything it started, and has the kernel kill it if the test binary dies
// first (a timeout panic runs no cleanup).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
