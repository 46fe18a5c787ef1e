//go:build !linux

// Package blackhole makes addresses whose connects never complete; Linux
// only (see blackhole_linux.go).
package blackhole

import "errors"

// Hole is an address whose connects never complete.
type Hole struct{}

// Listen fails: the accept-queue trick is Linux's.
func Listen(string) (*Hole, error) { return nil, errors.New("blackhole: Linux only") }

// Addr is "".
func (h *Hole) Addr() string { return "" }

// Close does nothing.
func (h *Hole) Close() error { return nil }
