package main

import "syscall"

// childAttr makes the exporter and the simulator die with the load test,
// also when it is killed.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// fdLimit is the open-file limit of this process (Go raises its soft limit
// to the hard one; the exporter it starts gets the soft limit of the shell,
// `ulimit -n`). Each probe in flight holds descriptors in both, so a run at
// a rate the machine cannot keep up with ends in "too many open files".
func fdLimit() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	return l.Cur
}

// selfCPU is this process's user+system CPU time: the load generator's
// and the simulated fleet's together.
func selfCPU() float64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return float64(u.Utime.Nano()+u.Stime.Nano()) / 1e9
}
