//go:build !linux

package main

import "errors"

type memCgroup struct{ dir string }

type cgroupStats struct{ oomKills, peak int64 }

func newMemCgroup(int64) (*memCgroup, error) { return nil, errors.New("memory cgroups are Linux only") }

func (g *memCgroup) wrap(bin string, args []string) (string, []string) { return bin, args }
func (g *memCgroup) stats() cgroupStats                                { return cgroupStats{} }
func (s cgroupStats) String() string                                   { return "" }
func (g *memCgroup) remove()                                           {}
func (g *memCgroup) usage() int64                                      { return 0 }
