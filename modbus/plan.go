package modbus

// The coalesced plan: the blocks of Plan joined across small gaps of the
// register map into fewer, larger reads, so that a probe asks for
// everything in one burst of a few requests. A gap is bridged only where
// the map documents nothing: a read never covers a personal register, a
// register of the other register set (which this firmware lacks, and whose
// read fails the whole block), a register of another condition (the DLM
// registers exist only on a DLM master; a read of them fails elsewhere), or
// one that only some documentation has (133).
// A controller that answers an exception for a bridged gap is read by the
// blocks of Plan instead (the read's parts), and remembered (see memory).

// maxGap is the widest run of undocumented registers a read bridges. A
// gap costs 2 bytes a register in the reply; in one burst it costs no round
// trip, so the bound only keeps a read from sweeping a wide area the map
// says nothing about (the widest gap bridged today: 153-199, 47 registers).
const maxGap = 64

// read is one request of the coalesced plan: a block, and the blocks of
// Plan it covers (one, itself, when nothing was joined).
type read struct {
	Block
	parts []Block
}

func (r read) coalesced() bool { return len(r.parts) > 1 }

// Reads returns the reads a probe of a register set sends after the
// version, in one burst: the blocks of Plan joined across gaps (for the
// debug view; a controller that refuses a joined read is read by the
// blocks of Plan it joins).
func Reads(set Set) []Block {
	var blocks []Block
	for _, r := range readPlan(set) {
		blocks = append(blocks, r.Block)
	}
	return blocks
}

// condition is when a block's registers mean anything: always, on a DLM
// master, or while a vehicle is connected. Only blocks of one condition
// are joined. An Optional register that is read on every probe (140) joins
// the always blocks: should a firmware lack it, the joined read fails and
// its parts are read, 140 alone among them.
type condition uint8

const (
	always condition = iota
	onDLMMaster
	whileVehicle
)

func conditionOf(b Block) condition {
	switch {
	case b.Group == DLM:
		return onDLMMaster
	case b.WhileVehicle:
		return whileVehicle
	}
	return always
}

// version is the block read first, alone: it tells the register set.
var version = Block{Addr: 100, Count: 2}

// readPlan returns the coalesced reads of a register set after the version
// (in address order within each condition: always, DLM, vehicle); the index
// of each read is stable for the set (memory keys on it). The plans are
// made once: the caller must not change them.
func readPlan(set Set) []read { return readPlans[set] }

var readPlans = map[Set][]read{Set512: makeReadPlan(Set512), Set522: makeReadPlan(Set522)}

func makeReadPlan(set Set) []read {
	var reads []read
	for _, c := range []condition{always, onDLMMaster, whileVehicle} {
		n := len(reads)
		for _, b := range fineBlocks(set) {
			if conditionOf(b) != c {
				continue
			}
			if len(reads) > n {
				last := &reads[len(reads)-1]
				end := b.Addr + b.Count
				gap := int(b.Addr) - int(last.Addr+last.Count)
				if gap <= maxGap && end-last.Addr <= maxBlock && bridgeable(last.Addr+last.Count, b.Addr) {
					last.Count = end - last.Addr
					last.parts = append(last.parts, b)
					continue
				}
			}
			reads = append(reads, read{Block: b, parts: []Block{b}})
		}
	}
	return reads
}

// fineBlocks are the blocks of Plan after the version, in address order.
func fineBlocks(set Set) []Block {
	var blocks []Block
	for _, g := range []Group{Base, DLM, Optional} {
		for _, b := range Plan(set, g) {
			if b.Addr == version.Addr {
				b = Block{Addr: version.Addr + version.Count, Count: b.Count - version.Count, Group: b.Group}
				if b.Count == 0 {
					continue
				}
			}
			blocks = append(blocks, b)
		}
	}
	sortBlocks(blocks)
	return blocks
}

func sortBlocks(blocks []Block) {
	for i := 1; i < len(blocks); i++ {
		for j := i; j > 0 && blocks[j].Addr < blocks[j-1].Addr; j-- {
			blocks[j], blocks[j-1] = blocks[j-1], blocks[j]
		}
	}
}

// bridgeable says whether a read may cover the gap [from, to): only if the
// map documents none of it. A row of the table inside a gap between blocks
// of one condition is of the other register set or another condition.
func bridgeable(from, to uint16) bool {
	if from >= to {
		return true
	}
	if touchesPersonal(from, to-from) {
		return false
	}
	for _, a := range documentedElsewhere {
		if a >= from && a < to {
			return false
		}
	}
	for i := range Registers {
		if r := &Registers[i]; r.Addr < to && r.Addr+r.words() > from {
			return false
		}
	}
	return true
}

// documentedElsewhere are registers some documentation has and the table
// does not read: 133 (the hardware current limit) is in the 5.32 in-UI
// documentation only, so a 5.22 firmware may lack it and fail the read
// that covers it.
var documentedElsewhere = []uint16{133}
