//go:build !linux

package main

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }

func fdLimit() uint64 { return 0 }

func selfCPU() float64 { return 0 }
