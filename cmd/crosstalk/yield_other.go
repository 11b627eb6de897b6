//go:build !linux

package main

import "errors"

// yieldCPU is Linux only: elsewhere the scheduler class cannot be lowered
// this way, and -yield says so.
func yieldCPU() error {
	return errors.New("lowering the CPU scheduling class is supported on Linux only")
}
