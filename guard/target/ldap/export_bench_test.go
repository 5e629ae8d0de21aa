package ldap

import (
	"bufio"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target"
)

// Run with
//
//	go test -run '^$' -bench Export -benchtime 1x -timeout 30m ./guard/target/ldap
//
// and, to compare concurrencies, -export.concurrency 1,4,8,16.
var (
	benchUsers       = flag.Int("export.users", 100_000, "users written by BenchmarkExport")
	benchGroups      = flag.Int("export.groups", 200, "groups written by BenchmarkExport")
	benchMembers     = flag.Int("export.members", 500, "members of each group")
	benchConcurrency = flag.String("export.concurrency", "", "comma-separated concurrencies to measure (default: the Writer's)")
)

// exportData generates users spread over five OUs and groups whose members
// are consecutive users, as the exporter sends them: users first, then the
// groups that name them.
func exportData(users, groups, members int) (us, gs []*target.Object) {
	titles := []string{"Engineer", "Buyer", "Analyst", "Manager", "Clerk"}
	depts := []string{"Sales", "Support", "Research", "Finance", "Operations"}
	us = make([]*target.Object, users)
	for i := range us {
		ou, uid := depts[i%len(depts)], fmt.Sprintf("u%06d", i)
		first, last := fmt.Sprintf("First%d", i), fmt.Sprintf("Last%d", i)
		us[i] = &target.Object{
			Anchor: fmt.Sprintf("uuid:00000000-0000-4000-8000-%012d", i), Type: target.TypeUser,
			DN: fmt.Sprintf("uid=%s,ou=%s,ou=People,%s", uid, ou, sourceBase), Name: first + " " + last, Enabled: true,
			Attributes: map[string][]string{
				"uid": {uid}, "cn": {first + " " + last}, "sn": {last}, "givenName": {first},
				"displayName": {first + " " + last}, "mail": {uid + "@corp.example"},
				"telephoneNumber": {fmt.Sprintf("+1 555 %04d", i%10000)}, "title": {titles[i%len(titles)]},
				"departmentNumber": {ou}, "employeeNumber": {strconv.Itoa(i)},
			},
		}
	}
	gs = make([]*target.Object, groups)
	for g := range gs {
		name := fmt.Sprintf("Group %03d", g)
		obj := &target.Object{
			Anchor: fmt.Sprintf("uuid:00000000-0000-4000-9000-%012d", g), Type: target.TypeGroup,
			DN: fmt.Sprintf("cn=%s,ou=Groups,%s", name, sourceBase), Name: name, Enabled: true,
			Attributes: map[string][]string{"cn": {name}, "description": {"Team " + name}},
		}
		for k := range members {
			u := us[(g*members+k)%len(us)]
			obj.Members = append(obj.Members, target.Member{Anchor: u.Anchor, DN: u.DN})
		}
		gs[g] = obj
	}
	return us, gs
}

func BenchmarkExport(b *testing.B) {
	slapdtest.Require(b)
	ldapadd, err := exec.LookPath("ldapadd")
	if err != nil {
		b.Skip("ldapadd not found: apt-get install ldap-utils")
	}
	users, groups := exportData(*benchUsers, *benchGroups, *benchMembers)
	concurrencies := []int{DefaultConcurrency}
	if *benchConcurrency != "" {
		concurrencies = nil
		for _, s := range strings.Split(*benchConcurrency, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				b.Fatalf("-export.concurrency: %q is not a positive number", s)
			}
			concurrencies = append(concurrencies, n)
		}
	}
	// Each round loads a fresh slapd with ldapadd, then one per concurrency
	// with the writer, so that a busy machine slows both alike; the figures
	// are totals over the rounds (-benchtime Nx).
	var ldapaddTotal time.Duration
	writerTotal := make([]time.Duration, len(concurrencies))
	for round := range b.N {
		base, baseCPU, entries := timeLDAPAdd(b, ldapadd, users, groups)
		ldapaddTotal += base
		// Printed, not logged: a benchmark's log is cut after ten lines.
		fmt.Printf("round %d: %d users, %d groups of %d members: ldapadd %.1fs (CPU: ldapadd %.1fs, slapd %.1fs)\n",
			round+1, len(users), len(groups), *benchMembers, base.Seconds(), baseCPU.client.Seconds(), baseCPU.server.Seconds())
		for i, n := range concurrencies {
			srv := slapdtest.Start(b, slapdtest.Options{Suffix: targetBase})
			w := newWriter(b, srv, func(c *Config) { c.Concurrency = n })
			start, cpu0 := time.Now(), cpuNow(b, srv)
			exportAll(b, w, users)
			exportAll(b, w, groups)
			took, cpu := time.Since(start), cpuNow(b, srv).since(cpu0)
			checkCount(b, srv, entries)
			w.Close()
			srv.Stop()
			writerTotal[i] += took
			fmt.Printf("round %d: writer at concurrency %d %.1fs: %.2f× (CPU: syncguard %.1fs, slapd %.1fs)\n",
				round+1, n, took.Seconds(), took.Seconds()/base.Seconds(), cpu.client.Seconds(), cpu.server.Seconds())
		}
	}
	b.ReportMetric(ldapaddTotal.Seconds()/float64(b.N), "ldapadd-s")
	for i, n := range concurrencies {
		b.ReportMetric(writerTotal[i].Seconds()/float64(b.N), fmt.Sprintf("writer-c%d-s", n))
		b.ReportMetric(writerTotal[i].Seconds()/ldapaddTotal.Seconds(), fmt.Sprintf("ratio-c%d", n))
	}
}

// timeLDAPAdd loads the entries the writer would write, as one LDIF, into
// a fresh slapd with ldapadd, and returns how long it took and how many
// entries the directory then holds.
func timeLDAPAdd(b *testing.B, ldapadd string, users, groups []*target.Object) (time.Duration, cpuUse, int) {
	b.Helper()
	srv := slapdtest.Start(b, slapdtest.Options{Suffix: targetBase})
	defer srv.Stop()
	ldif := filepath.Join(b.TempDir(), "export.ldif")
	containers := writeExportLDIF(b, newWriter(b, srv), ldif, users, groups)
	start, server0 := time.Now(), cpuNow(b, srv).server
	cmd := exec.Command(ldapadd, "-x", "-D", srv.RootDN, "-w", srv.RootPW, "-H", srv.URL, "-f", ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ldapadd: %v\n%.2000s", err, out)
	}
	took := time.Since(start)
	cpu := cpuUse{client: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), server: cpuNow(b, srv).server - server0}
	entries := 1 + containers + len(users) + len(groups)
	checkCount(b, srv, entries)
	return took, cpu, entries
}

// cpuUse is CPU time spent by the client (this process, or ldapadd) and
// by slapd: on a shared machine, what each side cost whatever the load.
type cpuUse struct{ client, server time.Duration }

func (c cpuUse) since(c0 cpuUse) cpuUse {
	return cpuUse{c.client - c0.client, c.server - c0.server}
}

// cpuNow reads this process's CPU time and slapd's (utime + stime from
// /proc, in clock ticks of 10ms).
func cpuNow(b *testing.B, srv *slapdtest.Server) cpuUse {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	pid, err := os.ReadFile(filepath.Join(srv.Dir, "slapd.pid"))
	if err != nil {
		b.Fatal(err)
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which ends with ')'): utime is the 12th, stime the 13th.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return cpuUse{client: self, server: time.Duration(ut+st) * 10 * time.Millisecond}
}

// exportAll puts every object with CreateFirst on Concurrency() workers.
func exportAll(b *testing.B, w *Writer, objs []*target.Object) {
	b.Helper()
	next := make(chan *target.Object, 256)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range w.Concurrency() {
		wg.Go(func() {
			for obj := range next {
				if _, err := w.Put(context.Background(), obj, "", target.CreateFirst); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("%s: %w", obj.DN, err) })
				}
			}
		})
	}
	for _, o := range objs {
		next <- o
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

// writeExportLDIF writes the entries the writer would add — the containers
// it creates, then each object as Put maps it — as LDIF for ldapadd, and
// returns how many containers there are.
func writeExportLDIF(b *testing.B, w *Writer, path string, groups ...[]*target.Object) int {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	seen := map[string]bool{}
	containers := 0
	for _, objs := range groups {
		for _, obj := range objs {
			e, err := w.entry(obj)
			if err != nil {
				b.Fatal(err)
			}
			for i := len(e.dn) - len(w.targetBase) - 1; i >= 1; i-- {
				c := e.dn[i:]
				if seen[c.key()] {
					continue
				}
				seen[c.key()] = true
				containers++
				a := c[0].Attributes[0]
				writeLDIFEntry(bw, c.String(), []ldapv3.Attribute{{Type: "objectClass", Vals: containerClasses[a.Type]}, {Type: a.Type, Vals: []string{a.Value}}})
			}
			req := e.addRequest()
			writeLDIFEntry(bw, req.DN, req.Attributes)
		}
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	return containers
}

func writeLDIFEntry(bw *bufio.Writer, dn string, attrs []ldapv3.Attribute) {
	writeLDIFLine(bw, "dn", dn)
	for _, a := range attrs {
		for _, v := range a.Vals {
			writeLDIFLine(bw, a.Type, v)
		}
	}
	bw.WriteByte('\n')
}

// writeLDIFLine writes one attribute line, base64 when RFC 2849 says the
// value is not safe as it is.
func writeLDIFLine(bw *bufio.Writer, name, v string) {
	safe := v == "" || (v[0] != ' ' && v[0] != ':' && v[0] != '<' && v[len(v)-1] != ' ')
	for i := 0; safe && i < len(v); i++ {
		safe = v[i] >= 0x20 && v[i] < 0x7f
	}
	if safe {
		fmt.Fprintf(bw, "%s: %s\n", name, v)
		return
	}
	fmt.Fprintf(bw, "%s:: %s\n", name, base64.StdEncoding.EncodeToString([]byte(v)))
}

// checkCount fails unless the directory holds want entries.
func checkCount(b *testing.B, srv *slapdtest.Server, want int) {
	b.Helper()
	c := srv.Conn(b)
	res, err := c.SearchWithPaging(ldapv3.NewSearchRequest(targetBase, ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil), 1000)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Entries) != want {
		b.Fatalf("%d entries in the directory, want %d", len(res.Entries), want)
	}
}
