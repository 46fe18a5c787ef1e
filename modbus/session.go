package modbus

import (
	"errors"
	"time"
)

// session is the reads of one probe after the version: the coalesced plan,
// in bursts while the controller answers them, one request at a time once
// it has been found not to.
type session struct {
	c         *conn
	set       Set
	pipelined bool          // send a round's reads in one burst
	stalled   bool          // a burst stalled in this probe: the rest went one at a time
	split     uint32        // reads of the plan read by their parts (known before, or found now)
	silence   time.Duration // how long a burst's replies may pause
	im        Image         // the registers read that apply
	held      []held        // replies to conditional reads whose condition is not known yet
	refused   []reply       // exceptions to reads that cannot be split
}

// item is one read to do: of the plan (index), or a part of one (-1).
type item struct {
	read
	index int
}

type held struct {
	item
	reply
}

// run reads the plan: rounds of reads until none is left (a round's
// exceptions on coalesced reads, and the reads a stalled burst left
// unanswered, make the next round).
func (s *session) run() error {
	var todo []item
	for i, r := range readPlan(s.set) {
		if s.split&(1<<i) != 0 {
			todo = append(todo, partsOf(r)...)
			continue
		}
		todo = append(todo, item{r, i})
	}
	for len(todo) > 0 {
		var err error
		if s.pipelined && len(todo) > 1 {
			todo, err = s.burst(todo)
		} else {
			todo, err = s.oneByOne(todo)
		}
		if err != nil {
			return err
		}
		todo = append(todo, s.resolve()...)
	}
	for _, r := range s.refused {
		if r.b.Group != Optional { // an Optional register's exception: not on this firmware
			return explainException(r.b, r.err)
		}
	}
	return nil
}

func partsOf(r read) []item {
	items := make([]item, len(r.parts))
	for i, p := range r.parts {
		items[i] = item{read{Block: p, parts: []Block{p}}, -1}
	}
	return items
}

// burst sends the reads in one write and takes their replies as they come.
// When they pause for longer than silence, the controller is taken for one
// that drops what arrives while it answers: what it did not answer is read
// again, one request at a time, and so is the rest of the probe.
func (s *session) burst(todo []item) ([]item, error) {
	blocks := make([]Block, len(todo))
	for i, it := range todo {
		blocks[i] = it.Block
	}
	if err := s.c.send(blocks...); err != nil {
		return nil, err
	}
	s.c.silence = s.silence
	defer func() { s.c.silence = 0 }()
	var next []item
	for range todo {
		r, err := s.c.receive()
		if errors.Is(err, errStalled) {
			s.pipelined, s.stalled = false, true
			for _, b := range s.c.abandon() {
				next = append(next, find(todo, b))
			}
			return next, nil
		}
		if err != nil {
			return nil, err
		}
		next = append(next, s.take(find(todo, r.b), r)...)
	}
	return next, nil
}

// oneByOne reads one request at a time, leaving out what is known not to
// apply; the parts of a coalesced read that was refused come next.
func (s *session) oneByOne(todo []item) ([]item, error) {
	for i, it := range todo {
		if applies, known := s.applies(it.Block); known && !applies {
			continue
		}
		if err := s.c.send(it.Block); err != nil {
			return nil, err
		}
		r, err := s.c.receive()
		if err != nil {
			return nil, err
		}
		if parts := s.take(it, r); len(parts) > 0 {
			return append(parts, todo[i+1:]...), nil
		}
	}
	return nil, nil
}

func find(todo []item, b Block) item {
	for _, it := range todo {
		if it.Block == b {
			return it
		}
	}
	panic("modbus: a reply to a read that was not sent") // conn matched it by transaction id
}

// take keeps a reply: the registers of a read that applies, the parts to
// read of a coalesced read that was refused (remembering it), the refusal
// of one that cannot be split. A conditional read waits in held until its
// condition is known.
func (s *session) take(it item, r reply) []item {
	applies, known := s.applies(it.Block)
	switch {
	case !known:
		s.held = append(s.held, held{it, r})
	case !applies:
	case r.err == nil:
		s.im.Add(r.b.Addr, r.words)
	case it.coalesced():
		s.split |= 1 << it.index
		return partsOf(it.read)
	default:
		s.refused = append(s.refused, r)
	}
	return nil
}

// resolve takes the held replies whose condition is known by now.
func (s *session) resolve() []item {
	var next []item
	keep := s.held[:0]
	for _, h := range s.held {
		if _, known := s.applies(h.Block); !known {
			keep = append(keep, h)
			continue
		}
		next = append(next, s.take(h.item, h.reply)...)
	}
	s.held = keep
	return next
}

// applies says whether a read means anything on this controller, and
// whether that is known yet: the DLM reads only on a DLM master (register
// 600 is 1 or 2), the vehicle reads only while one is connected (122 is B,
// C or D).
func (s *session) applies(b Block) (applies, known bool) {
	switch conditionOf(b) {
	case onDLMMaster:
		mode, ok := s.im.Word(600)
		return mode == 1 || mode == 2, ok
	case whileVehicle:
		cp, ok := s.im.Word(122)
		return cp >= 2 && cp <= 4, ok
	}
	return true, true
}
