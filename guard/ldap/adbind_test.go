package ldap

import (
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/ldap/adtest"
)

// TestADBindErrors: Active Directory's bind failures reach the admin in
// words, naming the account and what to do, never the password.
func TestADBindErrors(t *testing.T) {
	const pw = "wrong-ish password 52e"
	var accounts []adtest.Account
	for _, code := range []string{"530", "531", "532", "533", "701", "773", "775"} {
		accounts = append(accounts, adtest.Account{Name: "CN=svc-" + code + ",OU=Service," + adBase, Password: pw, Refuse: code})
	}
	accounts = append(accounts, adtest.Account{Name: `CORP\svc`, Password: "right"})
	s := adtest.Start(t, adtest.Options{Suffix: adBase, Accounts: accounts})

	for _, tc := range []struct {
		name, dn, password, want string
	}{
		{"wrong password", `CORP\svc`, pw, `ldap: bind as CORP\svc: invalid credentials: wrong password: check the bind password (AD error data 52e)`},
		{"unknown user", "svc@corp.example", pw, "ldap: bind as svc@corp.example: invalid credentials: user not found: check the bind DN (a DN, DOMAIN\\user or user@domain) (AD error data 525)"},
		{"logon hours", "CN=svc-530,OU=Service," + adBase, pw, "logon not permitted at this time: the account's logon hours exclude now; let it log on at any hour (AD error data 530)"},
		{"workstation", "CN=svc-531,OU=Service," + adBase, pw, "logon not permitted from this workstation: the account may log on only from the computers in its userWorkstations; add this one or clear the list (AD error data 531)"},
		{"password expired", "CN=svc-532,OU=Service," + adBase, pw, "password expired: set a new password on the account and here (a service account's password should not expire) (AD error data 532)"},
		{"disabled", "CN=svc-533,OU=Service," + adBase, pw, "ldap: bind as CN=svc-533,OU=Service,DC=corp,DC=example: invalid credentials: account disabled: enable the account in the directory (AD error data 533)"},
		{"account expired", "CN=svc-701,OU=Service," + adBase, pw, "account expired: extend or clear the account's expiry date (accountExpires) (AD error data 701)"},
		{"must change", "CN=svc-773,OU=Service," + adBase, pw, "password must be changed: the account must change its password at next logon; set a new password on the account and here, and clear that flag (AD error data 773)"},
		{"locked", "CN=svc-775,OU=Service," + adBase, pw, "account locked: too many wrong passwords (an old password still tried somewhere?); unlock the account, then check the bind password (AD error data 775)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{URL: s.URL, BaseDN: adBase, BindDN: tc.dn, BindPassword: tc.password}
			err := Search(t.Context(), cfg, adObjects, nil, noop)
			wantErr(t, err, tc.want)
			wantErr(t, err, "ldap: bind as "+tc.dn+": ")
			if strings.Contains(err.Error(), tc.password) {
				t.Errorf("error shows the password: %v", err)
			}
			if got := code(err); got != 49 {
				t.Errorf("code = %d, want 49", got)
			}
		})
	}
	t.Run("search before a bind", func(t *testing.T) {
		err := Search(t.Context(), Config{URL: s.URL, BaseDN: adBase}, adObjects, nil, noop)
		wantErr(t, err, "ldap: search DC=corp,DC=example (page 1, after 0 entries): operations error: 000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563")
		if strings.ContainsRune(err.Error(), 0) {
			t.Errorf("error holds AD's NUL: %q", err)
		}
	})
	t.Run("right password", func(t *testing.T) {
		cfg := Config{URL: s.URL, BaseDN: adBase, BindDN: `corp\SVC`, BindPassword: "right"}
		if err := Search(t.Context(), cfg, adObjects, nil, noop); err != nil {
			t.Errorf("Search = %v", err)
		}
	})
}
