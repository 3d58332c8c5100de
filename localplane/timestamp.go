package localplane

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Timestamp is an ECS API timestamp. The awsJson1_1 protocol sends timestamps as JSON
// numbers of epoch seconds with a fractional part (e.g. 1782900000.123), which is what
// aws-sdk-go-v2 and the AWS CLI decode; time.Time's own JSON form (RFC 3339) would be
// refused. The zero Timestamp marshals as null and is dropped by the "omitzero" tag.
type Timestamp struct{ time.Time }

// At returns t as a Timestamp, rounded to the millisecond the wire can carry.
func At(t time.Time) Timestamp {
	if t.IsZero() {
		return Timestamp{}
	}
	return Timestamp{t.Round(time.Millisecond).UTC()}
}

// MarshalJSON writes epoch seconds with millisecond precision.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(t.UnixMilli())/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds (integer or fractional); null leaves t zero.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*t = Timestamp{}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("timestamp: want epoch seconds: %w", err)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return fmt.Errorf("timestamp: %v out of range", f)
	}
	sec, frac := math.Modf(f)
	*t = At(time.Unix(int64(sec), int64(frac*1e9)))
	return nil
}
