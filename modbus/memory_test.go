package modbus

import (
	"testing"
	"time"
)

// TestMemory: what was learned of a target is kept until ttl has passed
// since it was learned (a probe that only confirms it does not extend it),
// forgotten at once when the target answers another firmware version, and
// the memory holds at most its bound, the oldest going first.
func TestMemory(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := NewMemory(2, time.Hour, func() time.Time { return now })
	v533, v522 := [2]uint16{0x352e, 0x3333}, [2]uint16{0x352e, 0x3232}
	drops := learned{version: v533, oneAtATime: true}
	m.set("a/255", drops)
	now = now.Add(50 * time.Minute)
	if got := m.get("a/255", v533); !got.oneAtATime {
		t.Errorf("after 50 min: %+v", got)
	}
	m.set("a/255", drops) // confirmed: does not extend
	now = now.Add(10 * time.Minute)
	if got := m.get("a/255", v533); got.oneAtATime || m.Len() != 0 {
		t.Errorf("after an hour: %+v, %d entries", got, m.Len())
	}

	m.set("b/255", learned{version: v533, split: 0b101})
	if got := m.get("b/255", v522); got.split != 0 || m.Len() != 0 {
		t.Errorf("another firmware version: %+v, %d entries", got, m.Len())
	}

	m.set("c/255", drops)
	now = now.Add(time.Minute)
	m.set("d/255", drops)
	now = now.Add(time.Minute)
	m.set("e/255", drops) // full: c, the oldest, goes
	if m.Len() != 2 || m.get("c/255", v533).oneAtATime || !m.get("d/255", v533).oneAtATime || !m.get("e/255", v533).oneAtATime {
		t.Errorf("bound: %d entries, %v", m.Len(), m.entries)
	}
	m.set("d/255", learned{version: v533}) // learned nothing: no entry
	if m.Len() != 1 {
		t.Errorf("%d entries", m.Len())
	}
	m.set("e/255", learned{version: v533, oneAtATime: true, split: 1}) // learned more: its time starts again
	now = now.Add(59 * time.Minute)
	if got := m.get("e/255", v533); got.split != 1 {
		t.Errorf("learned more: %+v", got)
	}
}
