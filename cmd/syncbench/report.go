package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The markers around the section of the README that syncbench owns.
const (
	startMarker = "<!-- bench:start -->"
	endMarker   = "<!-- bench:end -->"
)

// errNoMarkers: the file lacks the markers, and was left alone.
var errNoMarkers = errors.New("no bench markers")

// machine describes where the figures were measured.
type machine struct {
	CPU   string // model name
	Cores int
	Go    string // Go version
	OS    string // distribution and kernel, or GOOS
	Arch  string
}

func (m machine) String() string {
	return fmt.Sprintf("%s, %d cores, %s, %s %s", m.CPU, m.Cores, m.OS, m.Go, m.Arch)
}

// describeMachine reads the CPU model from /proc/cpuinfo and the system from
// /etc/os-release and /proc/sys/kernel/osrelease, where they exist.
func describeMachine() machine {
	m := machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if cpu := cpuModel(b); cpu != "" {
			m.CPU = cpu
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		if name := osRelease(b); name != "" {
			m.OS = name
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", " + runtime.GOOS + " " + strings.TrimSpace(string(b))
	}
	return m
}

// loadAverage returns the 1-minute load average (0 when unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.SplitN(string(b), " ", 2)[0], 64)
	return f
}

// cpuModel returns the first "model name" of a /proc/cpuinfo (on arm64,
// which has none, the "Hardware" or "CPU part" line stands in).
func cpuModel(cpuinfo []byte) string {
	var fallback string
	for line := range strings.Lines(string(cpuinfo)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Join(strings.Fields(v), " ")
		switch {
		case k == "model name" && v != "":
			return v
		case (k == "Hardware" || k == "CPU part") && fallback == "":
			fallback = v
		}
	}
	return fallback
}

// osRelease returns PRETTY_NAME of an /etc/os-release.
func osRelease(b []byte) string {
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// row is one line of a table: what was measured, and its samples, or a
// Value already worded (throughput, latencies); Target is the goal and its
// Ratio, Met whether the figures meet it ("" when there is no goal).
type row struct {
	What    string
	Samples []sample
	Value   string
	Target  string
	Met     string
}

// section is one table: a scenario and its data.
type section struct {
	Title string
	About string
	Rows  []row
}

// report is everything the tables say.
type report struct {
	Machine  machine
	Date     time.Time
	Sections []section
}

// markdown renders the report: a line on the machine, then each section's
// table of medians with the range over the runs.
func (r report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured by `make bench` (cmd/syncbench) on %s: %s.\n", r.Date.Format("2006-01-02"), r.Machine)
	for _, sec := range r.Sections {
		fmt.Fprintf(&b, "\n**%s.** %s\n\n", sec.Title, sec.About)
		b.WriteString("| Measurement | Wall time | Peak RSS | Target | Met |\n")
		b.WriteString("|---|--:|--:|---|:-:|\n")
		for _, row := range sec.Rows {
			wall, mem := row.Value, "–"
			if wall == "" {
				wall, mem = "–", summarizeRSS(row.Samples)
				if d, ok := medianWall(row.Samples); ok {
					wall = formatDuration(d)
					if len(row.Samples) > 1 {
						walls := walls(row.Samples)
						wall += fmt.Sprintf(" (%s–%s)", formatDuration(slices.Min(walls)), formatDuration(slices.Max(walls)))
					}
				}
			}
			target, met := row.Target, row.Met
			if target == "" {
				target = "–"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", row.What, wall, mem, target, met)
		}
	}
	return b.String()
}

func walls(s []sample) []time.Duration {
	out := make([]time.Duration, len(s))
	for i := range s {
		out[i] = s[i].wall
	}
	return out
}

// medianWall returns the median wall time of samples.
func medianWall(s []sample) (time.Duration, bool) {
	if len(s) == 0 {
		return 0, false
	}
	return median(walls(s)), true
}

// medianRSS returns the median peak RSS in KiB (0 when unknown).
func medianRSS(s []sample) int64 {
	rss := make([]int64, len(s))
	for i := range s {
		rss[i] = s[i].rssKB
	}
	if len(rss) == 0 || slices.Min(rss) <= 0 {
		return 0
	}
	return median(rss)
}

func summarizeRSS(s []sample) string {
	if kb := medianRSS(s); kb > 0 {
		return formatKB(kb)
	}
	return "–"
}

// yesNo words whether a target is met.
func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// median returns the middle value (the mean of the two middle ones for an
// even count); v must not be empty.
func median[T time.Duration | int64](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// formatDuration prints seconds with two significant decimals below 10 s.
func formatDuration(d time.Duration) string {
	switch s := d.Seconds(); {
	case s < 1:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.1f s", s)
	}
}

// formatKB prints a size in KiB as MiB.
func formatKB(kb int64) string {
	if kb <= 0 {
		return "–"
	}
	return fmt.Sprintf("%d MiB", (kb+512)/1024)
}

// formatBytes prints a file size.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// thousands writes n with comma separators: 100000 → 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// replaceSection returns doc with what lies between the start and end
// markers replaced by section; ok is false (and doc returned unchanged) when
// the markers are missing or out of order.
func replaceSection(doc, section string) (string, bool) {
	i := strings.Index(doc, startMarker)
	if i < 0 {
		return doc, false
	}
	body := i + len(startMarker)
	j := strings.Index(doc[body:], endMarker)
	if j < 0 {
		return doc, false
	}
	j += body
	return doc[:body] + "\n" + strings.TrimRight(section, "\n") + "\n" + doc[j:], true
}

// updateReadme writes section between the markers of the file at path,
// keeping its permissions. It returns an error wrapping os.ErrNotExist when
// the file is missing and errNoMarkers when the markers are; in both cases
// nothing is written.
func updateReadme(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, ok := replaceSection(string(b), section)
	if !ok {
		return errNoMarkers
	}
	if doc == string(b) {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(doc), fi.Mode().Perm())
}

// withoutSubtree copies the LDIF records of r to w, leaving out those whose
// DN is at or below base (compared case-insensitively), and returns how
// many were left out. Comments and blank lines between records are kept.
func withoutSubtree(w io.Writer, r io.Reader, base string) (int, error) {
	base = strings.ToLower(base)
	return filterRecords(w, r, func(dn string) bool { return dn == base || strings.HasSuffix(dn, ","+base) })
}

// onlyContainers copies the records of r that are the base entry or OUs
// (their first RDN is dc= or ou=): a directory whose users and groups are
// all gone.
func onlyContainers(w io.Writer, r io.Reader) (int, error) {
	return filterRecords(w, r, func(dn string) bool { return !strings.HasPrefix(dn, "dc=") && !strings.HasPrefix(dn, "ou=") })
}

// filterRecords copies the LDIF records of r to w but those whose DN (lower
// case) drop is true for, and returns how many were left out.
func filterRecords(w io.Writer, r io.Reader, drop func(dn string) bool) (int, error) {
	in := bufio.NewReaderSize(r, 1<<20)
	out := bufio.NewWriterSize(w, 1<<20)
	var rec []byte // the current record, raw
	dropped := 0
	flush := func() error {
		if len(rec) == 0 {
			return nil
		}
		dn, err := recordDN(rec)
		if err != nil {
			return err
		}
		dn = strings.ToLower(dn)
		if dn != "" && drop(dn) {
			dropped++
		} else if _, err := out.Write(rec); err != nil {
			return err
		}
		rec = rec[:0]
		return nil
	}
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				rec = append(rec, line...)
				if err := flush(); err != nil {
					return dropped, err
				}
			} else {
				rec = append(rec, line...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return dropped, err
		}
	}
	if err := flush(); err != nil {
		return dropped, err
	}
	return dropped, out.Flush()
}

// recordDN returns the DN of a raw LDIF record ("" for one without, such as
// a block of comments or the version line), unfolding and decoding base64.
func recordDN(rec []byte) (string, error) {
	var dn []byte
	in := false
	for line := range bytes.Lines(rec) {
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case in && len(line) > 0 && line[0] == ' ':
			dn = append(dn, line[1:]...)
			continue
		case in:
			return decodeDN(dn)
		case len(line) > 3 && bytes.EqualFold(line[:3], []byte("dn:")):
			dn, in = append(dn, line[3:]...), true
		}
	}
	if in {
		return decodeDN(dn)
	}
	return "", nil
}

// decodeDN reads the value of a dn line after "dn:": ": base64" or " plain".
func decodeDN(v []byte) (string, error) {
	if b64, ok := bytes.CutPrefix(v, []byte(":")); ok {
		d, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b64)))
		if err != nil {
			return "", fmt.Errorf("base64 DN %q: %w", b64, err)
		}
		return string(d), nil
	}
	return string(bytes.TrimSpace(v)), nil
}
