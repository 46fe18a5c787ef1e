//go:build !linux

package main

import "errors"

type blackhole struct{}

func listenBlackhole(string) (*blackhole, error) {
	return nil, errors.New("the no-syn-ack dark mode is Linux only")
}

func (b *blackhole) Close() error { return nil }
