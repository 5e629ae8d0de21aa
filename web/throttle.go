package web

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// throttle slows down password guessing without ever locking the right
// password out.
//
// Every sign-in attempt takes a reservation before its password is
// checked, under one lock: the reservation counts as a failure at once, so
// a hundred guesses sent together are counted as they arrive and only the
// first few are checked at all. The right password gives the failure back
// (and forgives the user's own earlier typos from that address).
//
// Failures are counted per account and address, per address, and per
// account; a count older than a day is forgotten.
//
//   - One account from one address: 5 free failures, then each further
//     attempt waits 30 s after the last one, doubling up to 15 minutes.
//     An attacker at one address gets 5 guesses, about 7 more in the
//     first hour, then 4 an hour.
//   - One address, whatever the accounts (spraying): 20 free failures,
//     then the same growing waits for everything from that address.
//   - One account from everywhere: past 20 failures the account is under
//     attack, and every address gets only 1 free failure for it instead of
//     5. A distributed attacker gets about one guess per address it owns,
//     then the waits above, per address.
//
// No count ever refuses an address that has not failed itself: the real
// admin, at an address of her own, signs in at the first try while the
// account is attacked from elsewhere (and after a typo waits 30 s). Behind
// a reverse proxy the address is the client's only when the proxy is
// trusted (--trusted-proxy); otherwise every user shares the proxy's.
type throttle struct {
	mu      sync.Mutex
	now     func() time.Time
	records map[string]*attempts
}

// attempts are the failures counted under one key.
type attempts struct {
	failures int
	last     time.Time // of the last failure (or reservation)
}

const (
	pairFree          = 5  // failures of one account from one address before waits
	pairFreeAttacked  = 1  // the same while the account is under attack
	addressFree       = 20 // failures from one address, any account, before waits
	accountAttacked   = 20 // failures of one account, any address, that mean an attack
	firstWait         = 30 * time.Second
	longestWait       = 15 * time.Minute
	forgetAfter       = 24 * time.Hour
	maxThrottleRecord = 100_000 // keys kept at most; beyond, the harmless ones are dropped
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, records: map[string]*attempts{}}
}

// reservation is one attempt let through to the password check. It stays
// counted as a failure unless succeeded is called.
type reservation struct {
	t    *throttle
	keys [3]string // pair, account, address
}

func throttleKeys(account, address string) [3]string {
	account = strings.ToLower(account)
	return [3]string{"pair\x00" + account + "\x00" + address, "account\x00" + account, "address\x00" + address}
}

// reserve counts an attempt of account from address before its password is
// checked. It returns how long to wait instead when the attempt must not
// be checked now.
func (t *throttle) reserve(account, address string) (*reservation, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	keys := throttleKeys(account, address)
	pair, acct, addr := t.get(keys[0], now), t.get(keys[1], now), t.get(keys[2], now)
	free := pairFree
	if acct.failures >= accountAttacked {
		free = pairFreeAttacked
	}
	if wait := max(pair.wait(free, now), addr.wait(addressFree, now)); wait > 0 {
		return nil, wait
	}
	for _, a := range []*attempts{pair, acct, addr} {
		a.failures++
		a.last = now
	}
	return &reservation{t: t, keys: keys}, 0
}

// succeeded gives back the attempt: the password was right. The failures
// of this account from this address were the user's own typos, and are
// taken off the account's and the address's counts too.
func (r *reservation) succeeded() {
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	pair := t.records[r.keys[0]]
	if pair == nil {
		return
	}
	delete(t.records, r.keys[0])
	for _, k := range r.keys[1:] {
		if a := t.records[k]; a != nil {
			if a.failures -= pair.failures; a.failures <= 0 {
				delete(t.records, k)
			}
		}
	}
}

// get returns the record of key, forgetting one a day old; the table is
// kept within its bound.
func (t *throttle) get(key string, now time.Time) *attempts {
	a := t.records[key]
	if a != nil && now.Sub(a.last) > forgetAfter {
		a = nil
	}
	if a == nil {
		if len(t.records) >= maxThrottleRecord {
			t.sweep(now)
		}
		a = &attempts{}
		t.records[key] = a
	}
	return a
}

// sweep drops the records that are a day old, then, if the table is still
// nearly full (someone tries many names or addresses), those of a single
// failure.
func (t *throttle) sweep(now time.Time) {
	for k, a := range t.records {
		if now.Sub(a.last) > forgetAfter {
			delete(t.records, k)
		}
	}
	if len(t.records) >= maxThrottleRecord*9/10 {
		for k, a := range t.records {
			if a.failures <= 1 {
				delete(t.records, k)
			}
		}
	}
}

// wait is how long the next attempt must wait after free failures.
func (a *attempts) wait(free int, now time.Time) time.Duration {
	if a.failures < free {
		return 0
	}
	d := min(firstWait<<min(a.failures-free, 10), longestWait)
	return a.last.Add(d).Sub(now)
}

// throttleAddress is the address attempts are counted under: an IPv4
// address, or the /64 of an IPv6 address (one subscriber's share).
func throttleAddress(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.Unmap().String()
}
