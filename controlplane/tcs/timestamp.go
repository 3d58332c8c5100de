package tcs

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Timestamp is a TCS model timestamp. TCS speaks the AWS JSON protocol, in which a
// timestamp is a JSON number of epoch seconds with a millisecond fraction
// (1782900020.5), not an ISO string: encoding/json's time.Time form would be rejected.
// The zero Timestamp is omitted by the `omitzero` tags on the message structs.
type Timestamp time.Time

// At returns t as a Timestamp, truncated to the millisecond the wire carries.
func At(t time.Time) Timestamp { return Timestamp(t.Truncate(time.Millisecond)) }

// Time returns the timestamp as a time.Time.
func (t Timestamp) Time() time.Time { return time.Time(t) }

// IsZero reports whether t is the zero time (used by `omitzero`).
func (t Timestamp) IsZero() bool { return time.Time(t).IsZero() }

// MarshalJSON writes epoch seconds with at most three decimals, the shortest form.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1e3, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds (integer or fractional); null leaves t unchanged.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%w: timestamp %q is not epoch seconds", ErrMalformedFrame, b)
	}
	*t = Timestamp(time.UnixMilli(int64(math.Round(f * 1e3))))
	return nil
}
