package testenv

import "syscall"

// RaiseFileLimit raises this process's file descriptor limit to at least
// need (the hard limit too, where allowed).
func RaiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	lim.Cur, lim.Max = need, max(lim.Max, need)
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
