package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// FindEvents reads up to scan stored events, newest first, starting below seq before (0: from the newest),
// and returns those match accepts, newest first, with the seq to continue below (0 when it reached the oldest
// event). It never holds one read transaction over more than scan events, so a search of a large file runs in
// steps. match must not call the store.
func (s *Store) FindEvents(before uint64, scan int, match func(Event) bool) (found []Event, next uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else {
			if at, _ := c.Seek(eventKey(before)); at == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for n := 0; k != nil; k, v = c.Prev() {
			if n == scan {
				next = binary.BigEndian.Uint64(k) + 1
				return nil
			}
			n++
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			if match(e) {
				found = append(found, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find events: %w", err)
	}
	return found, next, nil
}
