package logging

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// logfmtEncoder writes one line per entry:
//
//	level=info time=2026-11-22T13:00:00Z msg="task started" logger=task task=abc count=3
//
// Values are quoted (Go syntax) only when they need it: empty, or containing spaces, quotes,
// '=', backslashes or control characters. logfmt has no nesting, so objects, arrays and
// reflected values (maps, structs) are written as one JSON value, and zap namespaces become
// dotted key prefixes.
type logfmtEncoder struct {
	pool buffer.Pool
	buf  *buffer.Buffer // encoded " key=value" pairs of this encoder's context
	ns   string         // namespace prefix, "" or "a.b."
}

// NewLogfmtEncoder returns the logfmt zapcore.Encoder.
func NewLogfmtEncoder() zapcore.Encoder {
	p := buffer.NewPool()
	return &logfmtEncoder{pool: p, buf: p.Get()}
}

func (e *logfmtEncoder) Clone() zapcore.Encoder {
	c := &logfmtEncoder{pool: e.pool, buf: e.pool.Get(), ns: e.ns}
	_, _ = c.buf.Write(e.buf.Bytes())
	return c
}

func (e *logfmtEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	out := e.pool.Get()
	out.AppendString("level=")
	out.AppendString(levelName(ent.Level))
	out.AppendString(" time=")
	out.AppendString(ent.Time.UTC().Format(timeLayout))
	out.AppendString(" msg=")
	appendValue(out, ent.Message)
	if ent.LoggerName != "" {
		out.AppendString(" logger=")
		appendValue(out, ent.LoggerName)
	}
	if ent.Caller.Defined {
		out.AppendString(" caller=")
		appendValue(out, ent.Caller.TrimmedPath())
	}
	if len(fields) == 0 {
		_, _ = out.Write(e.buf.Bytes())
	} else {
		tmp := e.Clone().(*logfmtEncoder)
		for _, f := range fields {
			f.AddTo(tmp)
		}
		_, _ = out.Write(tmp.buf.Bytes())
		tmp.buf.Free()
	}
	if ent.Stack != "" {
		out.AppendString(" stacktrace=")
		appendValue(out, ent.Stack)
	}
	out.AppendByte('\n')
	return out, nil
}

// key starts a " key=" pair; keys are made safe rather than quoted.
func (e *logfmtEncoder) key(k string) {
	e.buf.AppendByte(' ')
	k = e.ns + k
	if k == "" {
		k = "_"
	}
	e.buf.AppendString(strings.Map(func(r rune) rune {
		if r <= ' ' || r == '=' || r == '"' || r == 0x7f || !unicode.IsPrint(r) {
			return '_'
		}
		return r
	}, k))
	e.buf.AppendByte('=')
}

func (e *logfmtEncoder) str(k, v string) {
	e.key(k)
	appendValue(e.buf, v)
}

// raw writes a value that never needs quoting (numbers, booleans).
func (e *logfmtEncoder) raw(k, v string) {
	e.key(k)
	e.buf.AppendString(v)
}

func (e *logfmtEncoder) AddArray(k string, m zapcore.ArrayMarshaler) error {
	enc := zapcore.NewMapObjectEncoder()
	err := enc.AddArray("v", m)
	e.json(k, enc.Fields["v"])
	return err
}

func (e *logfmtEncoder) AddObject(k string, m zapcore.ObjectMarshaler) error {
	enc := zapcore.NewMapObjectEncoder()
	err := m.MarshalLogObject(enc)
	e.json(k, enc.Fields)
	return err
}

func (e *logfmtEncoder) AddReflected(k string, v any) error {
	e.json(k, v)
	return nil
}

// json writes v as JSON; a JSON string is written as the plain string instead.
func (e *logfmtEncoder) json(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		e.str(k, fmt.Sprintf("%+v", v))
		return
	}
	var s string
	if len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &s) == nil {
		e.str(k, s)
		return
	}
	e.str(k, string(b))
}

func (e *logfmtEncoder) AddBinary(k string, v []byte) {
	e.str(k, base64.StdEncoding.EncodeToString(v))
}
func (e *logfmtEncoder) AddByteString(k string, v []byte) { e.str(k, string(v)) }
func (e *logfmtEncoder) AddBool(k string, v bool)         { e.raw(k, strconv.FormatBool(v)) }
func (e *logfmtEncoder) AddComplex128(k string, v complex128) {
	e.str(k, strconv.FormatComplex(v, 'g', -1, 128))
}
func (e *logfmtEncoder) AddComplex64(k string, v complex64) {
	e.str(k, strconv.FormatComplex(complex128(v), 'g', -1, 64))
}
func (e *logfmtEncoder) AddDuration(k string, v time.Duration) { e.raw(k, v.String()) }
func (e *logfmtEncoder) AddFloat64(k string, v float64) {
	e.raw(k, strconv.FormatFloat(v, 'g', -1, 64))
}
func (e *logfmtEncoder) AddFloat32(k string, v float32) {
	e.raw(k, strconv.FormatFloat(float64(v), 'g', -1, 32))
}
func (e *logfmtEncoder) AddInt(k string, v int)         { e.raw(k, strconv.FormatInt(int64(v), 10)) }
func (e *logfmtEncoder) AddInt64(k string, v int64)     { e.raw(k, strconv.FormatInt(v, 10)) }
func (e *logfmtEncoder) AddInt32(k string, v int32)     { e.raw(k, strconv.FormatInt(int64(v), 10)) }
func (e *logfmtEncoder) AddInt16(k string, v int16)     { e.raw(k, strconv.FormatInt(int64(v), 10)) }
func (e *logfmtEncoder) AddInt8(k string, v int8)       { e.raw(k, strconv.FormatInt(int64(v), 10)) }
func (e *logfmtEncoder) AddString(k, v string)          { e.str(k, v) }
func (e *logfmtEncoder) AddUint(k string, v uint)       { e.raw(k, strconv.FormatUint(uint64(v), 10)) }
func (e *logfmtEncoder) AddUint64(k string, v uint64)   { e.raw(k, strconv.FormatUint(v, 10)) }
func (e *logfmtEncoder) AddUint32(k string, v uint32)   { e.raw(k, strconv.FormatUint(uint64(v), 10)) }
func (e *logfmtEncoder) AddUint16(k string, v uint16)   { e.raw(k, strconv.FormatUint(uint64(v), 10)) }
func (e *logfmtEncoder) AddUint8(k string, v uint8)     { e.raw(k, strconv.FormatUint(uint64(v), 10)) }
func (e *logfmtEncoder) AddUintptr(k string, v uintptr) { e.raw(k, strconv.FormatUint(uint64(v), 10)) }
func (e *logfmtEncoder) AddTime(k string, v time.Time) {
	e.str(k, v.UTC().Format(time.RFC3339Nano))
}
func (e *logfmtEncoder) OpenNamespace(k string) { e.ns += k + "." }

// appendValue writes s, quoted if a logfmt reader could not take it bare.
func appendValue(b *buffer.Buffer, s string) {
	if needsQuote(s) {
		b.AppendString(strconv.Quote(s))
		return
	}
	b.AppendString(s)
}

func needsQuote(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return true
	}
	return strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == '"' || r == '=' || r == '\\' || r == 0x7f || !unicode.IsPrint(r)
	})
}
