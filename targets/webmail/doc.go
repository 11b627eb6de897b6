// Package webmail is a small multi-user webmail with selectable defects. It is
// the target crosstalk is shown against: realistic enough that finding a leak
// in it means something, and small enough to read in one sitting.
//
// # The incident
//
// In July 2008 a webmail added "show my last login". The code kept the
// requesting user in server memory shared by all requests and rendered the
// page from it. When two users asked within microseconds of each other, the
// earlier one was shown the later one's page and mailbox, while the later one
// saw its own. [BugLastLogin] rebuilds that defect in /profile: the handler
// stores its user in a field of the [Server], does [Options.Work] of busy work
// (the rendering), and then fills the page in from the field instead of from
// its own session. [BugNone] does the same work but renders for its own user.
// Either way the server is free of data races: the shared field is an atomic
// pointer, because the defect is in the logic, and the race detector would
// otherwise stop a test at the first collision.
//
// # Accounts and data
//
// [New] seeds [Options.Users] accounts (default [DefaultUsers]): account N has
// login "userN", password "pw-userN", email "userN@webmail.test" and a full
// name such as "Alice Lindqvist" that no other account shares; [Server.Users]
// lists them. Each mailbox starts with five messages from system senders
// (billing@, newsletter@, projects@, security@ and travel@webmail.test), each
// with one or two attachments. Their subjects, bodies and attachments carry
// codes only that user has: an invoice number, a project codename, a booking
// reference and the address of a previous login. Another user's identity can
// therefore appear in a page only through mail that user really sent, or
// through a leak. [Options.Seed] makes it all deterministic.
//
// Message ids count per user from 1, so the same id belongs to every user, as
// in real mail servers; a handler that picked a mailbox by id alone would
// leak.
//
// # Endpoints
//
//	GET  /login                              sign-in form
//	POST /login                              form fields login, password: 303 to /inbox and
//	                                         Set-Cookie sid=<128-bit hex>; HttpOnly; Path=/;
//	                                         bad credentials: 401 with "invalid login or password"
//	POST /logout                             ends the session, clears the cookie, 303 to /login
//	GET  /inbox                              HTML list of the mailbox, newest first
//	GET  /api/inbox                          {"user":"user3","messages":[{"id":5,"from":...,"subject":...,
//	                                         "snippet":...,"date":...,"attachments":1}, ...]}
//	GET  /messages/{id}                      HTML view of one message with its full body
//	GET  /api/messages/{id}                  the same as JSON: id, from, to, subject, date, body and
//	                                         attachments [{n, name, content_type, size}]
//	GET  /messages/{id}/attachments/{n}      download attachment n (from 1), Content-Disposition attachment
//	GET  /compose                            form for writing mail
//	POST /compose                            form fields to, subject, body: delivers to the user whose
//	                                         email (or login) is "to", from the sender's email; 303 to /inbox
//	POST /api/send                           JSON {"to","subject","body"}: the same; {"sent":true}
//	GET  /api/batch?ids=1,2,3                {"user":"user3","messages":[...]}: up to 50 messages of the
//	                                         caller's mailbox as /api/messages/{id} shows them, in the
//	                                         order asked; ids the mailbox lacks are left out
//	GET  /profile                            "Welcome back, <name>", the email, "Last login: <time> from
//	                                         <ip>" and a mailbox summary: the count and the three newest
//	                                         subjects, each with a snippet. The page of [BugLastLogin].
//	GET  /                                   303 to /inbox
//
// A message id that is not in the caller's own mailbox, or an attachment
// number it does not have, is 404. Without a valid session, /api/ paths answer
// 401 with {"error":"unauthorized"} and the others 303 to /login. A known path
// with the wrong method is 405; every other path is 404. Every response to a
// signed-in user carries Cache-Control: no-store. Mailboxes keep the newest
// 500 messages, and each user the newest 256 sessions, so a long load test
// cannot exhaust memory. There is no CSRF protection: this is a test target.
//
// # The bug zoo
//
// Besides the 2008 defect, [Options.Bug] selects one of the known production
// classes of cross-user leak, each a model of a public incident cited in its
// doc comment, and each found by crosstalk through webmail.yaml alone:
//
//   - [BugCacheKey]: a page cache keyed on the URL. Sequential requests leak.
//   - [BugMicrocache]: a 1 s cache whose request coalescing ignores the
//     session. Only requests that overlap leak; finding it takes bursts that
//     miss the cache together (harness Options.CacheBust).
//   - [BugPool]: a sync.Pool page buffer put back before the page is sent.
//   - [BugConnDesync]: a backend connection pooled again after a client
//     cancel, with its reply unread. Needs cancels.
//   - [BugSessionMix]: session ids that collide under concurrent logins.
//     Needs logins that land together.
//   - [BugAfterReturn]: sent mail read from a recycled request context after
//     the handler returned. Only the recipients' mailboxes show it.
//   - [BugLoopVar]: /api/batch requests coalesced into rounds whose
//     goroutines read a shared loop variable.
//   - [BugOutbox]: the mail being sent kept in one slot for the whole server
//     and shown on every inbox meanwhile. Needs a send and reads together.
//
// The variants are one table in bugs.go: [Bugs], [Bug.Description],
// [ParseBug], crosstalk serve's help and the tests all range over it.
//
// Every mode is free of data races: shared state a defect misuses is atomic
// or locked, so `go test -race` lets a test watch the leak happen. Modes
// with work left after their responses (afterreturn's mail queue) finish it
// in [Server.Close].
//
// # Serving it
//
// [Start] serves a new server on loopback (HTTP/1.1 and h2c on one port),
// [Server.URL] says where, and [Server.Stop] stops it, the way targets/mox
// and targets/nginx run theirs. A [Server] from [New] is a plain
// [http.Handler] for a server of the caller's own, such as httptest.
//
// With [Options.ReportArrival], every response carries "X-Arrival-Ns", the
// Unix time in nanoseconds at which the handler was entered, so a client can
// measure how close together its requests really arrived.
package webmail
