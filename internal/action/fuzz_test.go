package action

import (
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
)

var daysOrWeeks = regexp.MustCompile(`^([+-]?[0-9]+)([dw])$`)

// FuzzParseDuration: no input panics, a result is never negative nor above
// MaxDuration, and a value too large for it (however written) is an error,
// checked against exact arithmetic rather than the parser's own.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"", "0", "14d", "2w", "90m", "72h", "1h30m", "36500d", "36501d", "106752d", "200000w",
		"9223372036854775807d", "2562047h2562047h", "9223372036854775807ns", "-1d", "+3w", "1.5d", "1e3h", "0x10d", " 1d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, err := ParseDuration(v)
		if err == nil && (d < 0 || d > MaxDuration) {
			t.Fatalf("ParseDuration(%q) = %v, outside 0..%v", v, d, MaxDuration)
		}
		if err != nil && d != 0 {
			t.Fatalf("ParseDuration(%q) = %v with error %v", v, d, err)
		}
		if m := daysOrWeeks.FindStringSubmatch(v); m != nil {
			n, _ := new(big.Int).SetString(strings.TrimPrefix(m[1], "+"), 10)
			unit := 24 * time.Hour
			if m[2] == "w" {
				unit *= 7
			}
			want := n.Mul(n, big.NewInt(int64(unit)))
			ok := want.Sign() >= 0 && want.Cmp(big.NewInt(int64(MaxDuration))) <= 0
			if ok != (err == nil) || (ok && d != time.Duration(want.Int64())) {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %s ns, ok=%v", v, d, err, want, ok)
			}
			return
		}
		if v == "" || v == "0" {
			return
		}
		// time.ParseDuration refuses what overflows time.Duration.
		ref, refErr := time.ParseDuration(v)
		ok := refErr == nil && ref >= 0 && ref <= MaxDuration
		if ok != (err == nil) || (ok && d != ref) {
			t.Fatalf("ParseDuration(%q) = %v, %v; time.ParseDuration = %v, %v", v, d, err, ref, refErr)
		}
	})
}

var decimal = regexp.MustCompile(`^[+-]?[0-9]+$`)

// FuzzParseInt: no input panics, a result lies in 0..limit, and anything
// outside it, however many digits, is an error.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"", "0", "3", "-1", "+7", "2147483647", "2147483648", "9223372036854775807", "9223372036854775808",
		"99999999999999999999999", "0x10", "1e3", " 1", "007"} {
		f.Add(s, uint32(MaxInt))
		f.Add(s, uint32(256))
	}
	f.Fuzz(func(t *testing.T, v string, limit uint32) {
		lim := int(limit % (MaxInt + 1))
		n, err := ParseInt(v, lim)
		if err == nil && (n < 0 || n > lim) {
			t.Fatalf("ParseInt(%q, %d) = %d", v, lim, n)
		}
		if err != nil && n != 0 {
			t.Fatalf("ParseInt(%q, %d) = %d with error %v", v, lim, n, err)
		}
		if v == "" {
			return
		}
		ok := false
		var want *big.Int
		if decimal.MatchString(v) {
			want, _ = new(big.Int).SetString(strings.TrimPrefix(v, "+"), 10)
			ok = want.Sign() >= 0 && want.Cmp(big.NewInt(int64(lim))) <= 0
		}
		if ok != (err == nil) || (ok && int64(n) != want.Int64()) {
			t.Fatalf("ParseInt(%q, %d) = %d, %v; want %v, ok=%v", v, lim, n, err, want, ok)
		}
	})
}

// FuzzParseInputs: any argument list parses or is a usage error; it never
// panics, and whatever is read from it obeys the bounds.
func FuzzParseInputs(f *testing.F) {
	f.Add("--items\x00a\x00--items\x00b")
	f.Add("--dry-run\x00maybe")
	f.Add("--older-than=106752d\x00--keep=9223372036854775808")
	f.Add("--keep=\x00--dry-run=\x00--name\x00a\x00--name\x00b")
	f.Add("--\x00stray")
	f.Fuzz(func(t *testing.T, joined string) {
		in, err := ParseInputs(testSpec, strings.Split(joined, "\x00"), envOf(nil))
		if err != nil {
			if code := CodeOf(err); code != ExitUsage && err != errHelp && err != errVersion {
				t.Fatalf("ParseInputs(%q): exit %d: %v", joined, code, err)
			}
			return
		}
		p := parseTest(in)
		if p.Keep < 0 || p.Older < 0 || p.Older > MaxDuration {
			t.Fatalf("ParseInputs(%q) read %+v", joined, p)
		}
		if err := in.Err(); err != nil && CodeOf(err) != ExitUsage {
			t.Fatalf("ParseInputs(%q): %v", joined, err)
		}
	})
}
