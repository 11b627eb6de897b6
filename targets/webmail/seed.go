package webmail

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// MailDomain is the domain of every address the server knows: user N is
// "userN@webmail.test", and seeded mail comes from system senders such as
// "billing@webmail.test".
const MailDomain = "webmail.test"

// Names are drawn as one first name and one last name. No first name ends
// another and no last name begins another, so no full name is a substring of
// a different one and a name found in a page names exactly one user.
var firstNames = [...]string{
	"Alice", "Bruno", "Chiara", "Dmitri", "Elif", "Farah", "Gustav", "Hana",
	"Ines", "Jonas", "Kasia", "Leon", "Maren", "Nikhil", "Olga", "Pavel",
	"Quentin", "Rosa", "Sven", "Tomoko", "Ugo", "Vera", "Wanjiru", "Ximena",
	"Yusuf", "Zofia", "Amara", "Bjorn", "Camille", "Dario", "Esther", "Felix",
}

var lastNames = [...]string{
	"Lindqvist", "Okafor", "Moreau", "Tanaka", "Novak", "Haddad", "Fischer", "Silva",
	"Kowalski", "Brennan", "Petrov", "Nakamura", "Oyelaran", "Dubois", "Castillo", "Eriksen",
	"Romano", "Vargas", "Ishikawa", "Mensah", "Larsen", "Horvat", "Quist", "Abernathy",
	"Yilmaz", "Zapata", "Gallo", "Takacs", "Whitfield", "Achterberg", "Sorensen", "Mbeki",
}

// MaxUsers is the most accounts [New] can seed with distinct names.
const MaxUsers = len(firstNames) * len(lastNames)

var birds = [...]string{
	"Heron", "Kestrel", "Plover", "Avocet", "Merlin", "Curlew", "Dunlin", "Egret",
	"Gannet", "Hobby", "Ibis", "Jacana", "Kite", "Lapwing", "Osprey", "Puffin",
}

// codeAlphabet leaves out 0/O and 1/I so codes read back unambiguously.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// seedData is what one user's seeded content is made of. Every field but the
// fixed templates is unique to the user, which is what lets an oracle tell
// whose page it is looking at.
type seedData struct {
	code     string // invoice and account code, e.g. "K7Q2ZP"
	codename string // project codename, e.g. "Kestrel-482"
	ref      string // travel booking reference
	ip       string // address of the seeded previous login
	at       time.Time
	amount   string
}

// seeder draws unique values from one deterministic stream.
type seeder struct {
	rng  *rand.Rand
	used map[string]bool
}

func newSeeder(seed int64) *seeder {
	return &seeder{
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x5745424d41494c)),
		used: map[string]bool{},
	}
}

// unique draws from gen until it yields a value not drawn before. The spaces
// drawn from are far larger than MaxUsers times the draws per user, so the
// loop ends quickly.
func (sd *seeder) unique(gen func() string) string {
	for {
		v := gen()
		if !sd.used[v] {
			sd.used[v] = true
			return v
		}
	}
}

func (sd *seeder) code(n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(codeAlphabet[sd.rng.IntN(len(codeAlphabet))])
	}
	return b.String()
}

// names returns n distinct full names. For the first 32 users both the first
// and the last names differ, which reads better in a demo.
func (sd *seeder) names(n int) []string {
	pf := sd.rng.Perm(len(firstNames))
	pl := sd.rng.Perm(len(lastNames))
	out := make([]string, n)
	for i := range out {
		a := i % len(firstNames)
		b := (a + i/len(firstNames)) % len(lastNames)
		out[i] = firstNames[pf[a]] + " " + lastNames[pl[b]]
	}
	return out
}

func (sd *seeder) user() seedData {
	d := seedData{
		code: sd.unique(func() string { return sd.code(6) }),
		codename: sd.unique(func() string {
			return fmt.Sprintf("%s-%03d", birds[sd.rng.IntN(len(birds))], 100+sd.rng.IntN(900))
		}),
		ref: sd.unique(func() string { return "BK" + sd.code(5) }),
		ip: sd.unique(func() string {
			return fmt.Sprintf("10.%d.%d.%d", sd.rng.IntN(256), sd.rng.IntN(256), 1+sd.rng.IntN(254))
		}),
		amount: fmt.Sprintf("%d.%02d", 20+sd.rng.IntN(900), sd.rng.IntN(100)),
	}
	d.at = seedEpoch.Add(13*24*time.Hour + time.Duration(sd.rng.IntN(24*3600))*time.Second)
	return d
}

// seedEpoch dates the seeded mail to the month of the incident.
var seedEpoch = time.Date(2008, time.July, 1, 8, 0, 0, 0, time.UTC)

// draft is a message before delivery gives it an id.
type draft struct {
	from, subject, body string
	date                time.Time
	atts                []attachment
}

// seedMail writes the five seeded messages of one user, oldest first. Senders
// are system addresses only, so another user's identity can reach a page only
// through mail that user really sent, or through a leak.
func (sd *seeder) seedMail(a *account, d seedData) []draft {
	first, _, _ := strings.Cut(a.Name, " ")
	day := func(n int) time.Time {
		return seedEpoch.Add(time.Duration(n)*24*time.Hour + time.Duration(sd.rng.IntN(8*3600))*time.Second)
	}
	inv := "INV-" + d.code
	return []draft{
		{
			from:    "billing@" + MailDomain,
			subject: "Invoice " + inv + " for " + first,
			body: fmt.Sprintf("Hello %s,\n\nyour invoice %s for July 2008 is attached.\n"+
				"Amount due: EUR %s. Please quote account reference %s with your payment.\n\n"+
				"Kind regards,\nThe billing team", a.Name, inv, d.amount, d.code),
			date: day(2),
			atts: []attachment{{
				name:  "invoice-" + inv + ".csv",
				ctype: "text/csv; charset=utf-8",
				data: fmt.Appendf(nil, "invoice,account,holder,amount_eur\n%s,%s,%s,%s\n",
					inv, a.Email, a.Name, d.amount),
			}},
		},
		{
			from:    "newsletter@" + MailDomain,
			subject: "Weekly digest for " + a.Name,
			body: fmt.Sprintf("Hi %s,\n\nhere is what happened this week. Your reading list "+
				"RL-%s has three new articles, and your saved search for project %s "+
				"found two new documents.\n\nUnsubscribe at any time from your profile.",
				first, d.code, d.codename),
			date: day(5),
			atts: []attachment{{
				name:  "digest-" + d.code + ".txt",
				ctype: "text/plain; charset=utf-8",
				data: fmt.Appendf(nil, "Weekly digest for %s <%s>\nReading list RL-%s\nSaved search: %s\n",
					a.Name, a.Email, d.code, d.codename),
			}},
		},
		{
			from:    "projects@" + MailDomain,
			subject: "Project " + d.codename + " kickoff notes",
			body: fmt.Sprintf("Dear %s,\n\nthanks for leading the kickoff of project %s. The notes and "+
				"the first budget draft are attached; the budget is held under cost centre "+
				"CC-%s.\n\nNext review: the week after next.", a.Name, d.codename, d.code),
			date: day(9),
			atts: []attachment{
				{
					name:  strings.ToLower(d.codename) + "-notes.txt",
					ctype: "text/plain; charset=utf-8",
					data: fmt.Appendf(nil, "Project %s kickoff\nLead: %s\n- scope agreed\n- cost centre CC-%s\n",
						d.codename, a.Name, d.code),
				},
				{
					name:  strings.ToLower(d.codename) + "-budget.csv",
					ctype: "text/csv; charset=utf-8",
					data: fmt.Appendf(nil, "project,cost_centre,owner,budget_eur\n%s,CC-%s,%s,%s\n",
						d.codename, d.code, a.Email, d.amount),
				},
			},
		},
		{
			from:    "security@" + MailDomain,
			subject: "New sign-in from " + d.ip,
			body: fmt.Sprintf("Hello %s,\n\nyour account %s was signed in to from %s on %s.\n"+
				"If this was you, there is nothing to do. The full report is attached.",
				a.Name, a.Email, d.ip, d.at.Format(timeLayout)),
			date: d.at,
			atts: []attachment{{
				name:  "sign-in-" + d.code + ".txt",
				ctype: "text/plain; charset=utf-8",
				data: fmt.Appendf(nil, "account: %s\nholder: %s\naddress: %s\ntime: %s\n",
					a.Email, a.Name, d.ip, d.at.Format(time.RFC3339)),
			}},
		},
		{
			from:    "travel@" + MailDomain,
			subject: "Itinerary " + d.ref + " for " + a.Name,
			body: fmt.Sprintf("Dear %s,\n\nyour booking %s is confirmed: Stockholm to Lisbon, "+
				"departing in three weeks. The itinerary is attached; show booking reference "+
				"%s at check-in.", a.Name, d.ref, d.ref),
			date: day(16),
			atts: []attachment{{
				name:  "itinerary-" + d.ref + ".txt",
				ctype: "text/plain; charset=utf-8",
				data: fmt.Appendf(nil, "Passenger: %s\nBooking: %s\nRoute: ARN-LIS\nContact: %s\n",
					a.Name, d.ref, a.Email),
			}},
		},
	}
}
