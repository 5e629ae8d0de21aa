package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

func cmdUserAdd(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "user add")
	role := fs.String("role", "", "`role`: admin (may change things) or viewer (may only look)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *role != store.RoleAdmin && *role != store.RoleViewer {
		return usageError("user add: --role must be admin or viewer")
	}
	name, err := guard.ParseUserName(pos[0])
	if err != nil {
		return usageError("user add: %v", err)
	}
	hash, err := readPassword(c, "user add", fmt.Sprintf("syncguard user add %s --role %s < password-file", name, *role))
	if err != nil {
		return err
	}
	st, err := c.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.AddUser(ctx, &store.User{Name: name, PasswordHash: hash, Role: *role}, "cli"); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("a user named %q already exists", name)
		}
		return err
	}
	fmt.Fprintf(c.Stdout, "added %s %q\n", *role, name)
	return nil
}

// readPassword reads a new password from the first line of stdin and
// hashes it; example is how to give it.
func readPassword(c *Config, cmd, example string) (string, error) {
	line, err := bufio.NewReader(c.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", usageError("%s: type the password on standard input (for example: %s)", cmd, example)
	}
	hash, err := guard.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return "", usageError("%s: %v", cmd, err)
	}
	return hash, nil
}

// openUser opens the store and finds the user called name; the caller
// closes the store.
func (c *Config) openUser(ctx context.Context, name string) (*store.Store, *store.User, error) {
	st, err := c.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	u, err := st.UserByName(ctx, name)
	if err != nil {
		st.Close()
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, fmt.Errorf("no user named %q", name)
		}
		return nil, nil, err
	}
	return st, u, nil
}

func cmdUserPasswd(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "user passwd")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	hash, err := readPassword(c, "user passwd", "syncguard user passwd "+pos[0]+" < password-file")
	if err != nil {
		return err
	}
	st, u, err := c.openUser(ctx, pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.SetPassword(ctx, u.ID, hash, "cli"); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "changed the password of %q; every session of %s was signed out\n", u.Name, printable(u.Name))
	return nil
}

func cmdUserSetRole(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "user set-role")
	pos, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	role := pos[1]
	if role != store.RoleAdmin && role != store.RoleViewer {
		return usageError("user set-role: the role must be admin or viewer, not %q", role)
	}
	st, u, err := c.openUser(ctx, pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	if u.Role == role {
		fmt.Fprintf(c.Stdout, "%q is already %s\n", u.Name, role)
		return nil
	}
	if err := st.SetRole(ctx, u.ID, role, "cli"); err != nil {
		return lastAdmin(err, u)
	}
	fmt.Fprintf(c.Stdout, "%q is now %s; the sessions of %s were signed out\n", u.Name, role, printable(u.Name))
	return nil
}

func cmdUserRemove(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "user remove")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	st, u, err := c.openUser(ctx, pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RemoveUser(ctx, u.ID, "cli"); err != nil {
		return lastAdmin(err, u)
	}
	fmt.Fprintf(c.Stdout, "removed %s %q and ended its sessions\n", u.Role, u.Name)
	return nil
}

// lastAdmin words the store's refusal to demote or remove the last admin.
func lastAdmin(err error, u *store.User) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%q is the last admin: make another user admin first", u.Name)
	}
	return err
}

// userJSON is the stable shape of user list --json.
type userJSON struct {
	Name         string  `json:"name"`
	Role         string  `json:"role"`
	CreatedAt    *string `json:"created_at"`
	LastSignInAt *string `json:"last_sign_in_at"` // null: never
}

func cmdUserList(ctx context.Context, c *Config, args []string) error {
	return listing(ctx, c, "user list", args, (*store.Store).Users, func(u *store.User) userJSON {
		return userJSON{Name: u.Name, Role: u.Role, CreatedAt: jsonTime(u.CreatedAt), LastSignInAt: jsonTime(u.LastSignInAt)}
	}, "NAME\tROLE\tCREATED\tLAST SIGN-IN", func(u *store.User) string {
		last := formatTime(u.LastSignInAt)
		if u.LastSignInAt.IsZero() {
			last = "never"
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s", printable(u.Name), u.Role, formatTime(u.CreatedAt), last)
	})
}
