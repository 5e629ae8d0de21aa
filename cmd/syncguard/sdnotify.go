package main

import (
	"net"
)

// sdNotify tells systemd about the service's state (READY=1, STOPPING=1,
// STATUS=…) on the datagram socket named by $NOTIFY_SOCKET, as a
// Type=notify unit expects; without the variable it does nothing. It is
// the whole protocol: one datagram per message, a leading '@' naming an
// abstract socket (which Go's net package maps).
func sdNotify(getenv func(string) string, state string) error {
	addr := getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
