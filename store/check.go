package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrCorrupt says the data file exists but is empty, truncated or not a readable bbolt file. Open refuses it
// rather than start over (which would forget which SMS were already delivered) or let bbolt panic on it.
var ErrCorrupt = errors.New("data file truncated or corrupt")

func corrupt(path, why string) error {
	return fmt.Errorf("%w: restore the copy of %s from a backup (or, if it never held data, remove it to start empty): %s",
		ErrCorrupt, path, why)
}

// bbolt's file format (go.etcd.io/bbolt internal/common): pages start with a 16-byte header; pages 0 and 1 are
// meta pages, written alternately, each with a checksum (FNV-64a of the fields before it).
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16
	metaSize        = 64 // magic, version, pageSize, flags, root (pgid, sequence), freelist, pgid, txid, checksum
	metaChecksumAt  = 56
	noFreelist      = ^uint64(0)
	minPageSize     = 1024
	maxPageSizeBits = 14 // bbolt looks for the second meta page up to 1024<<14
)

type boltMeta struct {
	pageSize                 uint64
	root, freelist, pgid, tx uint64
}

// readMeta decodes and validates the meta page at off; ok is false if it is not a valid meta page.
func readMeta(f io.ReaderAt, off int64) (m boltMeta, ok bool) {
	buf := make([]byte, pageHeaderSize+metaSize)
	if n, _ := f.ReadAt(buf, off); n < len(buf) {
		return m, false
	}
	b := buf[pageHeaderSize:]
	e := binary.NativeEndian // bbolt writes its structs in the machine's byte order
	if e.Uint32(b[0:]) != boltMagic || e.Uint32(b[4:]) != boltVersion {
		return m, false
	}
	h := fnv.New64a()
	h.Write(b[:metaChecksumAt])
	if h.Sum64() != e.Uint64(b[metaChecksumAt:]) {
		return m, false
	}
	return boltMeta{pageSize: uint64(e.Uint32(b[8:])), root: e.Uint64(b[16:]), freelist: e.Uint64(b[32:]),
		pgid: e.Uint64(b[40:]), tx: e.Uint64(b[48:])}, true
}

// Check looks at the data file at path as Open does first, from its meta pages alone, and returns ErrCorrupt
// (one line, saying to restore the copy) for an empty, truncated or damaged file. It takes no lock, so it can
// run beside a server holding the file, and passes a file that does not exist (Open would create it).
func Check(path string) error { return checkFile(path) }

// checkFile looks at an existing data file before bbolt maps it: bbolt panics on some damaged files, and
// takes an empty one for a new store. A file that does not exist is fine (Open creates it).
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil // bbolt reports it with its own words (permissions...)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	size := fi.Size()
	if size == 0 {
		return corrupt(path, "the file is empty (0 bytes)")
	}
	// Find the page size as bbolt does: from meta page 0, else from meta page 1 at each possible page size.
	m0, ok0 := readMeta(f, 0)
	pageSize := m0.pageSize
	if !ok0 {
		for i := 0; i <= maxPageSizeBits; i++ {
			if m, ok := readMeta(f, minPageSize<<i); ok && m.pageSize == minPageSize<<i {
				pageSize = m.pageSize
				break
			}
		}
	}
	if pageSize == 0 {
		return corrupt(path, fmt.Sprintf("no valid bbolt meta page in its %d bytes", size))
	}
	m1, ok1 := readMeta(f, int64(pageSize))
	// bbolt uses the valid meta page with the higher transaction id.
	var m boltMeta
	switch {
	case ok0 && ok1 && m1.tx > m0.tx, !ok0 && ok1:
		m = m1
	case ok0:
		m = m0
	default:
		return corrupt(path, "no valid bbolt meta page")
	}
	if m.pageSize != pageSize || pageSize < minPageSize || pageSize > minPageSize<<maxPageSizeBits {
		return corrupt(path, fmt.Sprintf("meta pages disagree on the page size (%d)", m.pageSize))
	}
	if m.pgid < 4 || m.root >= m.pgid || (m.freelist >= m.pgid && m.freelist != noFreelist) {
		return corrupt(path, fmt.Sprintf("meta page points past the end of its data (page %d of %d)", max(m.root, m.freelist), m.pgid))
	}
	if need := m.pgid * pageSize; need/pageSize != m.pgid || uint64(size) < need {
		return corrupt(path, fmt.Sprintf("the file has %d bytes, its meta page says %d pages of %d bytes (%d bytes)",
			size, m.pgid, pageSize, need))
	}
	return nil
}

// checkPages walks every page of an existing data file, read-only, before it is opened for writing. bbolt
// does the same walk when it opens a file for writing (to rebuild its free list, NoFreelistSync), but in a
// goroutine of its own, where a damaged page is a panic nobody can recover (tx.Check does it there too); here
// the walk runs in this goroutine, so a damaged page becomes ErrCorrupt.
func checkPages(path string, timeout time.Duration) (err error) {
	if _, err := os.Stat(path); err != nil {
		return nil // no file yet, or one bbolt will report on
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return corrupt(path, err.Error())
	}
	defer db.Close()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = corrupt(path, fmt.Sprintf("bbolt failed reading it: %v", p))
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { walkBucket(b); return nil })
	})
}

// walkBucket visits every key of b and of its nested buckets, so every branch and leaf page is read.
func walkBucket(b *bolt.Bucket) {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				walkBucket(nb)
			}
		}
	}
}
