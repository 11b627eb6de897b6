//go:build !linux

package mox

import "syscall"

// procAttr puts mox in a process group of its own, so Stop can end it with
// everything it started.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
