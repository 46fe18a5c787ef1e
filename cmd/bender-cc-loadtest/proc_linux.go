package main

import "syscall"

// childAttr makes the exporter and the simulator die with the load test,
// also when it is killed.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
