package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{""}},
		{"  -flag", []string{"  -flag"}},
		{"    one two three four", []string{"    one two", "    three four"}},
		{"averyveryverylongword x", []string{"averyveryverylongword", "x"}},
	} {
		if got := wrap(tc.in, 14); !slices.Equal(got, tc.want) {
			t.Errorf("wrap(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestManPageEscapes(t *testing.T) {
	m := meta{Name: "ecsd", Agent: "0.1.0", Time: time.Unix(0, 0)}
	got := string(manPage{Name: "x", Section: "1", Summary: "s", Help: ".dot\n'quote\nback\\slash -flag", SeeAlso: "y"}.roff(m))
	for _, want := range []string{"\\&.dot\n", "\\&'quote\n", "back\\eslash \\-flag\n", ".TH X 1 \"1970-01-01\" \"ecsd 0.1.0\" \"User Commands\"\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("roff output lacks %q:\n%s", want, got)
		}
	}
}

func TestDebianDocuments(t *testing.T) {
	m := meta{Name: "ecsd", Version: pkgVersion{"0.1.0+git5.gabc", "1"}, Agent: "0.1.0", Commit: "abc", Maintainer: "M <m@example.org>", Homepage: "https://example.org", Time: time.Date(2026, 12, 7, 4, 5, 6, 0, time.UTC)}
	cl := string(debianChangelog(m))
	if !strings.HasPrefix(cl, "ecsd (0.1.0+git5.gabc-1) unstable; urgency=medium\n") || !strings.HasSuffix(cl, "\n -- M <m@example.org>  Mon, 07 Dec 2026 04:05:06 +0000\n") {
		t.Errorf("changelog:\n%s", cl)
	}
	cp := string(debianCopyright(m))
	for _, want := range []string{"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n", "Files: *\nCopyright: 2026 ecsd authors\nLicense: Apache-2.0\n", "/usr/share/common-licenses/Apache-2.0"} {
		if !strings.Contains(cp, want) {
			t.Errorf("copyright lacks %q", want)
		}
	}
}
