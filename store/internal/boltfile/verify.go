// Package boltfile checks the structure of a bbolt database file from its bytes, without
// bbolt.
//
// bbolt memory-maps its file and trusts every page it reaches: a page number past the end of
// a truncated file is a SIGBUS, one past the mapping a SIGSEGV, a garbled page header a panic,
// and several of these happen on goroutines bbolt starts itself (the free-page scan at open,
// tx.Check), where no recover can reach them. A damaged checkpoint therefore crashed the agent
// on every start. Verify walks the same B+tree on a plain byte slice, checking every bound
// before it reads, so a file that passes can be handed to bbolt without crashing it, and one
// that fails is reported with the reason instead.
//
// The format is bbolt's version 2 (go.etcd.io/bbolt/internal/common): two meta pages, then
// branch, leaf and freelist pages, native byte order.
package boltfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
)

// ErrCorrupt is wrapped by every error that describes damage to the file.
var ErrCorrupt = errors.New("corrupt bbolt file")

// Format constants of bbolt's file format version 2.
const (
	magic   = 0xED0CDAED
	version = 2

	pageHeaderSize  = 16 // id uint64, flags uint16, count uint16, overflow uint32
	branchElemSize  = 16 // pos uint32, ksize uint32, pgid uint64
	leafElemSize    = 16 // flags uint32, pos uint32, ksize uint32, vsize uint32
	inBucketSize    = 16 // root pgid uint64, sequence uint64
	metaSize        = 64 // magic, version, pageSize, flags, root, freelist, pgid, txid, checksum
	metaChecksumOff = 56 // the checksum covers the meta's bytes before it

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10
	flagBucket   = 0x01 // leaf element flag: the value is a nested bucket

	noFreelist = ^uint64(0)

	minPageSize = 512
	maxPageSize = 1 << 24 // bbolt tries page sizes up to 16 MiB when meta 0 is unreadable
	// maxDepth bounds bucket nesting plus tree height. bbolt's trees are a handful of levels
	// deep; anything deeper is a loop that escaped the reachability check or garbage.
	maxDepth = 64
)

var ne = binary.NativeEndian

// Info is what Verify learned about a sound file.
type Info struct {
	PageSize int
	// TxID is the transaction of the meta page in use; HighWater the page count it claims.
	TxID      uint64
	HighWater uint64
	// Pages is how many pages the tree and the freelist use.
	Pages int
}

// meta is a decoded meta page.
type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// Verify checks data, a whole bbolt file, and returns ErrCorrupt (wrapped, with the reason)
// if bbolt could crash on it or would read garbage: no valid meta page, a file shorter than
// the meta page says, a page number out of bounds, a page header that does not match, an
// element outside its page, a page reached twice (which includes loops), a freed page still
// in use. It never panics and reads nothing outside data. An empty slice is a file bbolt
// would initialise, so it is sound.
func Verify(data []byte) (Info, error) {
	if len(data) == 0 {
		return Info{}, nil
	}
	m, err := pickMeta(data)
	if err != nil {
		return Info{}, err
	}
	v := &verifier{data: data, ps: uint64(m.pageSize), hwm: m.pgid, seen: map[uint64]bool{}}
	info := Info{PageSize: int(m.pageSize), TxID: m.txid, HighWater: m.pgid}
	if m.pgid < 2 {
		return info, corrupt("meta claims %d pages; a database has at least its 2 meta pages", m.pgid)
	}
	if need := m.pgid * v.ps; m.pgid > uint64(len(data))/v.ps || need > uint64(len(data)) {
		return info, corrupt("file is %d bytes but its meta page (txid %d) says it holds %d pages of %d bytes (%d bytes): truncated",
			len(data), m.txid, m.pgid, m.pageSize, m.pgid*v.ps)
	}
	if m.root < 2 || m.root >= m.pgid {
		return info, corrupt("root bucket page %d is outside pages 2..%d", m.root, m.pgid-1)
	}
	if _, _, err := v.tree(m.root, 0, nil, nil, nil, true); err != nil {
		return info, err
	}
	if m.freelist != noFreelist {
		if err := v.freelist(m.freelist); err != nil {
			return info, err
		}
	}
	info.Pages = len(v.seen)
	return info, nil
}

// pickMeta returns the meta page bbolt would use: the valid one with the higher txid.
func pickMeta(data []byte) (meta, error) {
	m0, err0 := readMeta(data, 0)
	ps := uint64(0)
	if err0 == nil {
		ps = uint64(m0.pageSize)
	}
	var m1 meta
	var err1 error
	if ps != 0 {
		m1, err1 = readMeta(data, ps)
	} else {
		// Like bbolt: meta 0 is unreadable, so look for meta 1 at every page size it could
		// have been written with.
		err1 = errors.New("no valid meta page 1 at any page size")
		for size := uint64(1024); size <= maxPageSize; size <<= 1 {
			if m, err := readMeta(data, size); err == nil && uint64(m.pageSize) == size {
				m1, err1 = m, nil
				break
			}
		}
	}
	switch {
	case err0 != nil && err1 != nil:
		return meta{}, corrupt("both meta pages are invalid (meta 0: %v; meta 1: %v)", err0, err1)
	case err0 == nil && err1 == nil:
		if m0.pageSize != m1.pageSize {
			return meta{}, corrupt("meta pages disagree on the page size (%d, %d)", m0.pageSize, m1.pageSize)
		}
		if m1.txid > m0.txid {
			return m1, nil
		}
		return m0, nil
	case err0 == nil:
		return m0, nil
	default:
		return m1, nil
	}
}

// readMeta decodes and validates the meta page at byte offset off.
func readMeta(data []byte, off uint64) (meta, error) {
	end := off + pageHeaderSize + metaSize
	if end < off || end > uint64(len(data)) {
		return meta{}, errors.New("beyond the end of the file")
	}
	b := data[off+pageHeaderSize : end]
	if ne.Uint32(b[0:]) != magic {
		return meta{}, errors.New("bad magic number")
	}
	if v := ne.Uint32(b[4:]); v != version {
		return meta{}, fmt.Errorf("format version %d, want %d", v, version)
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:metaChecksumOff])
	if ne.Uint64(b[metaChecksumOff:]) != h.Sum64() {
		return meta{}, errors.New("checksum mismatch")
	}
	m := meta{
		pageSize: ne.Uint32(b[8:]),
		root:     ne.Uint64(b[16:]),
		freelist: ne.Uint64(b[32:]),
		pgid:     ne.Uint64(b[40:]),
		txid:     ne.Uint64(b[48:]),
	}
	if m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0 {
		return meta{}, fmt.Errorf("page size %d is not a power of two in %d..%d", m.pageSize, minPageSize, maxPageSize)
	}
	return m, nil
}

type verifier struct {
	data []byte
	ps   uint64
	hwm  uint64
	// seen holds every page (overflow pages included) already reached.
	seen map[uint64]bool
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// page checks the header of page id and returns its bytes (overflow pages included), its
// flags and its element count. It claims the pages it spans.
func (v *verifier) page(id uint64, path []uint64) ([]byte, uint16, uint16, error) {
	if id < 2 || id >= v.hwm {
		return nil, 0, 0, corrupt("page %d (reached via %v) is outside pages 2..%d", id, path, v.hwm-1)
	}
	off := id * v.ps
	hdr := v.data[off : off+pageHeaderSize]
	if got := ne.Uint64(hdr[0:]); got != id {
		return nil, 0, 0, corrupt("page %d (reached via %v) calls itself page %d", id, path, got)
	}
	flags, count, overflow := ne.Uint16(hdr[8:]), ne.Uint16(hdr[10:]), uint64(ne.Uint32(hdr[12:]))
	if overflow >= v.hwm-id {
		return nil, 0, 0, corrupt("page %d (reached via %v) claims %d overflow pages, past page %d", id, path, overflow, v.hwm-1)
	}
	for p := id; p <= id+overflow; p++ {
		if v.seen[p] {
			return nil, 0, 0, corrupt("page %d (reached via %v) is reached twice", p, path)
		}
		v.seen[p] = true
	}
	return v.data[off : off+(overflow+1)*v.ps], flags, count, nil
}

// tree checks the tree rooted at page id, whose keys must lie in [minKey, maxKey) (nil: no
// bound), and returns its first and last keys. Key order is checked the way bbolt's tx.Check
// and its free-page scan at open check it, since that scan panics on whatever it finds. On
// top of that, a branch element's key must equal its child's first key: bbolt keeps it so
// (node.spill), and relies on it when it writes: a child whose first key differs from its
// parent's copy is added to the parent a second time instead of replacing its entry, which
// turns a record that merely decodes badly into a tree with a page referenced twice.
func (v *verifier) tree(id uint64, depth int, path []uint64, minKey, maxKey []byte, bucketsOnly bool) (first, last []byte, err error) {
	if depth > maxDepth {
		return nil, nil, corrupt("trees nest deeper than %d levels at page %d (via %v)", maxDepth, id, path)
	}
	path = append(path[:len(path):len(path)], id)
	p, flags, count, err := v.page(id, path[:len(path)-1])
	if err != nil {
		return nil, nil, err
	}
	switch flags {
	case flagBranch:
		if count == 0 {
			return nil, nil, corrupt("branch page %d (via %v) has no elements", id, path)
		}
		keys := make([][]byte, count)
		children := make([]uint64, count)
		for i := range int(count) {
			if keys[i], children[i], err = v.branchElem(p, i, id); err != nil {
				return nil, nil, err
			}
		}
		running := minKey
		for i := range int(count) {
			if err := keyOrder(id, i, keys[i], running, maxKey, path); err != nil {
				return nil, nil, err
			}
			next := maxKey
			if i+1 < int(count) {
				next = keys[i+1]
			}
			childFirst, childLast, err := v.tree(children[i], depth+1, path, keys[i], next, bucketsOnly)
			if err != nil {
				return nil, nil, err
			}
			if !bytes.Equal(childFirst, keys[i]) {
				return nil, nil, corrupt("branch page %d (via %v): key %d differs from the first key of its child page %d", id, path, i, children[i])
			}
			running = childLast
		}
		return keys[0], running, nil
	case flagLeaf:
		return v.leaf(p, count, id, depth, path, minKey, maxKey, true, bucketsOnly)
	default:
		return nil, nil, corrupt("page %d (via %v) has type flags %#x where a branch or leaf page belongs", id, path, flags)
	}
}

// keyOrder checks key i of page id against the previous key (or the lower bound, for the
// first) and the upper bound, as bbolt's verifyKeyOrder does.
func keyOrder(id uint64, i int, key, prev, maxKey []byte, path []uint64) error {
	if prev != nil {
		c := bytes.Compare(prev, key)
		if c > 0 || (c == 0 && i > 0) {
			return corrupt("page %d (via %v): key %d is out of order", id, path, i)
		}
	}
	if maxKey != nil && bytes.Compare(key, maxKey) >= 0 {
		return corrupt("page %d (via %v): key %d is not below its parent's next key", id, path, i)
	}
	return nil
}

// branchElem checks element i of branch page p and returns its key and the child page it
// points to.
func (v *verifier) branchElem(p []byte, i int, id uint64) ([]byte, uint64, error) {
	eoff := pageHeaderSize + i*branchElemSize
	if eoff+branchElemSize > len(p) {
		return nil, 0, corrupt("branch page %d: element %d lies outside the page", id, i)
	}
	e := p[eoff : eoff+branchElemSize]
	pos, ksize := uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:]))
	kstart := uint64(eoff) + pos
	if kend := kstart + ksize; kend > uint64(len(p)) {
		return nil, 0, corrupt("branch page %d: key of element %d lies outside the page", id, i)
	}
	return p[kstart : kstart+ksize], ne.Uint64(e[8:]), nil
}

// leaf checks a leaf page's (or an inline bucket's) elements and the buckets they hold, and
// returns its first and last keys. ordered asks for the key order check, which bbolt skips
// for inline buckets; bucketsOnly is set for the top-level tree, which holds nothing but
// buckets (bbolt has no way to put a plain value there).
func (v *verifier) leaf(p []byte, count uint16, id uint64, depth int, path []uint64, minKey, maxKey []byte, ordered, bucketsOnly bool) (first, last []byte, err error) {
	running := minKey
	for i := range int(count) {
		eoff := pageHeaderSize + i*leafElemSize
		if eoff+leafElemSize > len(p) {
			return nil, nil, corrupt("leaf page %d (via %v): element %d lies outside the page", id, path, i)
		}
		e := p[eoff : eoff+leafElemSize]
		flags := ne.Uint32(e[0:])
		pos, ksize, vsize := uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		kstart := uint64(eoff) + pos
		vstart := kstart + ksize
		vend := vstart + vsize
		if vend > uint64(len(p)) {
			return nil, nil, corrupt("leaf page %d (via %v): key or value of element %d lies outside the page", id, path, i)
		}
		key := p[kstart:vstart]
		if ordered {
			if err := keyOrder(id, i, key, running, maxKey, path); err != nil {
				return nil, nil, err
			}
		}
		if i == 0 {
			first = key
		}
		running = key
		if flags&flagBucket == 0 {
			if bucketsOnly {
				return nil, nil, corrupt("leaf page %d (via %v): element %d of the top-level tree is not a bucket", id, path, i)
			}
			continue
		}
		val := p[vstart:vend]
		if len(val) < inBucketSize {
			return nil, nil, corrupt("leaf page %d (via %v): bucket element %d has a %d-byte header, want %d", id, path, i, len(val), inBucketSize)
		}
		if root := ne.Uint64(val[0:]); root != 0 {
			if _, _, err := v.tree(root, depth+1, path, nil, nil, false); err != nil {
				return nil, nil, err
			}
			continue
		}
		// An inline bucket: a leaf page stored in the value itself, after the bucket header.
		inline := val[inBucketSize:]
		if len(inline) < pageHeaderSize {
			return nil, nil, corrupt("leaf page %d (via %v): inline bucket of element %d is %d bytes, shorter than a page header", id, path, i, len(inline))
		}
		if f := ne.Uint16(inline[8:]); f != flagLeaf {
			return nil, nil, corrupt("leaf page %d (via %v): inline bucket of element %d has page flags %#x, want a leaf", id, path, i, f)
		}
		if depth+1 > maxDepth {
			return nil, nil, corrupt("buckets nest deeper than %d levels at page %d (via %v)", maxDepth, id, path)
		}
		if _, _, err := v.leaf(inline, ne.Uint16(inline[10:]), id, depth+1, path, nil, nil, false, false); err != nil {
			return nil, nil, err
		}
	}
	if count == 0 {
		return nil, nil, nil
	}
	return first, running, nil
}

// freelist checks the freelist page: in bounds, and every free page a real one that the
// tree does not use, listed once.
func (v *verifier) freelist(id uint64) error {
	inTree := make(map[uint64]bool, len(v.seen))
	for p := range v.seen {
		inTree[p] = true
	}
	p, flags, count, err := v.page(id, nil)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if flags != flagFreelist {
		return corrupt("freelist page %d has type flags %#x", id, flags)
	}
	start, n := uint64(pageHeaderSize), uint64(count)
	if count == 0xFFFF {
		// The count overflowed 16 bits: the real count is the first element.
		if len(p) < pageHeaderSize+8 {
			return corrupt("freelist page %d is too short for its count", id)
		}
		n = ne.Uint64(p[pageHeaderSize:])
		start += 8
	}
	if n > (uint64(len(p))-start)/8 {
		return corrupt("freelist page %d lists %d pages, more than it can hold", id, n)
	}
	listed := make(map[uint64]bool, n)
	for i := range n {
		free := ne.Uint64(p[start+8*i:])
		switch {
		case free < 2 || free >= v.hwm:
			return corrupt("freelist page %d lists page %d, outside pages 2..%d", id, free, v.hwm-1)
		case inTree[free]:
			return corrupt("freelist page %d lists page %d, which is in use", id, free)
		case listed[free]:
			return corrupt("freelist page %d lists page %d twice", id, free)
		}
		listed[free] = true
	}
	return nil
}
