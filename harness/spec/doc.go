// Package spec describes an HTTP target for crosstalk: where it is, who its
// users are, how they log in, which requests they make and how to plant
// canaries in their data.
//
// A spec is written in YAML or JSON. JSON is read by the same YAML parser
// (github.com/goccy/go-yaml), so both formats give the same error positions
// and the format is told by content, never by file extension. [Load] reads a
// file and [Parse] reads bytes; both decode, fill in defaults, resolve the
// users from a list, a pattern or a CSV file, read secrets from the
// environment and check every template variable. Every error they return is
// an [*Error] naming the file, line, column and field, such as
//
//	spec.yaml:12:5: users.list[1].password_env: environment variable PW_BOB is not set
//
// because a spec is edited by hand, and a bare "invalid value" is no help at
// 2 a.m. Unknown fields are errors too, with a suggestion when the name is
// close to a real one, since a misspelt optional field would otherwise be
// silently ignored.
//
// # Example
//
// Every field is shown; the comments give the defaults.
//
//	name: webmail                   # default: the file name without extension
//	base_url: http://127.0.0.1:8080 # required; absolute http or https URL, no user info, query or fragment
//	instances:                      # optional: each instance's own URL, for crosstalk canary
//	  - http://10.0.0.11:8080
//	  - http://10.0.0.12:8080
//	backend_header: X-Upstream-Addr # optional: the response header in which a balancer names the backend
//	                                # that served (nginx: add_header X-Upstream-Addr $upstream_addr always)
//	users:                          # exactly one of list, pattern, csv; at least 2 users
//	  list:
//	    - login: alice
//	      password_env: PW_ALICE    # read from the environment at load time
//	      email: alice@example.test
//	      markers: [alice-secret-7f3a]
//	      vars: {account: "1001"}   # every user must define the same vars
//	    - login: bob
//	      password: hunter2
//	      email: bob@example.test
//	      vars: {account: "1002"}
//	  # pattern: {count: 10, start: 1, login: "user{{n}}", password_env: "PW_{{n}}",
//	  #           email: "user{{n}}@example.test", markers: ["m-{{n}}"], vars: {id: "{{n}}"}}
//	  # csv: users.csv              # relative to this file; header names the columns
//	login:
//	  type: form                    # form | json | basic | bearer | none
//	  method: POST                  # default POST (form and json only)
//	  path: /login
//	  form: {user: "{{login}}", pass: "{{password}}"}
//	  # body: '{"user": "{{login}}", "pass": "{{password}}"}'   # for type json
//	  headers: {X-Requested-With: crosstalk}
//	  session: cookie               # cookie (default) | token
//	  # token: {json: "$.token"}    # session token: where the token is; var defaults to "token"
//	  # auth_header: "Authorization: Bearer {{token}}"  # session token and bearer
//	  expect_status: [200, 302]     # default: any of 200-399
//	  fail_if: "(?i)invalid password"
//	seed:                           # run once per user before any burst
//	  - name: plant
//	    method: POST
//	    path: /api/messages
//	    body: '{"to": "{{email}}", "subject": "{{canary}}"}'
//	    headers: {Content-Type: application/json}
//	    action: write
//	requests:                       # at least one
//	  - name: inbox
//	    path: /api/accounts/{{account}}/messages   # method default GET
//	    weight: 3                   # default 1; 0 is an error
//	    data: mail                  # default: the name
//	    action: read                # read (default) | write | login | logout
//	    extract:
//	      - {var: msg_id, json: "$.messages[*].id"}
//	  - name: message
//	    path: /api/messages/{{msg_id}}
//	    extract:
//	      - {var: etag, header: ETag}
//	      - {var: thread, regexp: 'data-thread="([0-9]+)"'}
//	  - name: logout
//	    method: POST
//	    path: /logout
//	    action: logout
//	learn: true                     # learned markers (default true)
//	sessions: fresh                 # fresh (default): every plan execution logs its users in again;
//	                                # keep: the setup's sessions serve them all (targets that rate-limit logins)
//	reset:                          # sent before every plan execution; no templates
//	  - name: reset
//	    method: POST                # default POST
//	    path: /admin/reset
//	    headers_env: {X-Reset-Token: RESET_TOKEN}   # header values from the environment
//	    expect_status: [204]        # default: any of 200-299
//	reset_keeps_data: false         # true: the reset only clears caches, so seeds are not sent again
//	limits:
//	  timeout: 5s                   # per request; default 5s, must be > 0
//	  max_body: 4194304             # bytes; default 4 MiB
//	  max_error_rate: 0.01          # default 0.01; an explicit 0 is kept
//	  min_coverage: 0.5             # share of responses that must show their viewer's
//	                                # own data for Isolated; default 0.5, 0 turns it off
//
// # Templates
//
// Paths, bodies, header values, login form fields and the auth header are
// templates: "{{name}}" (spaces inside the braces allowed) is replaced per
// user at run time by [Expand]. The names a template may use are login,
// password, email, token, n (the user's position from 1), the users' vars,
// every extract var (login.token, seed and requests), and canary in seed
// requests only. Login fields may use only the user's own values. An unknown
// name or an unterminated "{{" is a load error. In a pattern, "{{n}}" is the
// pattern's own counter (from start) and is the only name allowed.
//
// # Extracts
//
// An extract stores values from a user's own responses in a variable. JSON
// paths are a subset of JSONPath, evaluated by [ExtractJSON]: "$" then
// ".name", "['name']", "[N]", "[*]" or ".*" steps. Regexps use Go syntax and
// are evaluated by [ExtractRegexp]; the first group, or the whole match, is
// the value.
//
// # CSV users
//
// The header row names the columns: login, password, password_env, token,
// token_env, email, markers (several separated by "|") and vars.NAME for a
// user var. Lines starting with "#" are comments. A UTF-8 byte order mark,
// as spreadsheets write, is skipped. Errors in a row name the CSV file and
// its line.
//
// # Bounds
//
// A spec larger than [MaxSpecBytes] (1 MiB) or nested deeper than
// [MaxSpecDepth] (64 levels) is refused before the YAML parser sees it, with
// the line where the bound is crossed: some inputs of a few hundred KiB cost
// that parser gigabytes. [LoadContext] also stops when its context does.
package spec
