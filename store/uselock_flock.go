//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// tryLock takes a shared or exclusive flock on f without waiting; it
// reports false when another open file holds a conflicting one (another
// process, or another Store of this process).
func tryLock(f *os.File, exclusive bool) (bool, error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		default:
			return false, err
		}
	}
}

// lockHolders names the processes holding a flock on f, as Linux lists
// them in /proc/locks ("process 1234 (syncguard serve)"); "" when it
// cannot tell.
func lockHolders(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return ""
	}
	defer locks.Close()
	// 1: FLOCK  ADVISORY  READ  1234 08:01:5678 0 EOF
	inode := ":" + strconv.FormatUint(uint64(st.Ino), 10)
	var who []string
	lines := bufio.NewScanner(locks)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || !strings.HasSuffix(fields[5], inode) {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
		desc := fmt.Sprintf("process %d", pid)
		if len(args) > 0 {
			args[0] = args[0][strings.LastIndex(args[0], "/")+1:]
			desc += " (" + strings.Join(args[:min(len(args), 4)], " ") + ")"
		}
		who = append(who, desc)
	}
	return strings.Join(who, ", ")
}
