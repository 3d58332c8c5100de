package hostsetup

import "strings"

// multiError is errors.Join on one line: ecs-init reports its failure as a single stderr
// line, and the journal shows each line as a separate entry.
type multiError []error

func (m multiError) Error() string {
	msgs := make([]string, len(m))
	for i, err := range m {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (m multiError) Unwrap() []error { return m }

// join returns nil for no errors, the error itself for one, and a multiError otherwise.
func join(errs []error) error {
	var out multiError
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}
