//go:build unix && !linux

package process

import "syscall"

// procAttr puts the process in a group of its own, so Stop can end it with
// everything it started.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
