//go:build !linux

package nginx

import "syscall"

// procAttr puts nginx in a process group of its own, so Stop can end it with
// everything it started.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
