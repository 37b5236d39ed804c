package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bDelivered counts, per destination and minute, the jobs logged in the CRM: dest 0 unix minute -> uint64.
// It is created by the first delivery (files written before it existed have none, and a read-only store may
// lack it), so readers treat a missing bucket as no deliveries.
var bDelivered = []byte("delivered")

// DeliveredKeep is how far back Delivered can count: older minutes are pruned as new ones start.
const DeliveredKeep = 25 * time.Hour

func deliveredKey(dest string, minute int64) []byte {
	return append(destPrefix(dest), u64(uint64(max(minute, 0)))...)
}

// countDelivered adds one delivery to dest's count for the minute of now. Starting a new minute prunes that
// destination's minutes older than DeliveredKeep, so the bucket stays at about 1,500 keys per destination.
func countDelivered(tx *bolt.Tx, dest string, now time.Time) error {
	b, err := tx.CreateBucketIfNotExists(bDelivered)
	if err != nil {
		return err
	}
	minute := now.Unix() / 60
	k := deliveredKey(dest, minute)
	var n uint64
	if v := b.Get(k); v != nil {
		n = binary.BigEndian.Uint64(v)
	} else {
		cutoff := deliveredKey(dest, minute-int64(DeliveredKeep/time.Minute))
		p := destPrefix(dest)
		c := b.Cursor()
		var old [][]byte
		for k, _ := c.Seek(p); k != nil && hasPrefix(k, p) && string(k) < string(cutoff); k, _ = c.Next() {
			old = append(old, append([]byte(nil), k...))
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return b.Put(k, u64(n+1))
}

// Delivered returns how many of dest's jobs were logged in the CRM from the minute of since until now. It
// counts at most DeliveredKeep back; deliveries before this count existed (older data files) are not counted.
func (s *Store) Delivered(dest string, since time.Time) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDelivered)
		if b == nil {
			return nil
		}
		p := destPrefix(dest)
		c := b.Cursor()
		for k, v := c.Seek(deliveredKey(dest, since.Unix()/60)); k != nil && hasPrefix(k, p); k, v = c.Next() {
			n += int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delivered %s: %w", dest, err)
	}
	return n, nil
}
