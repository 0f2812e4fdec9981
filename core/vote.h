/*
** vote.h -- approval votes for block producers (DESIGN, "Staking": sys.vote,
** counted by consensus/dpos.lua).
**
** An account approves up to LN_VOTES_MAX producers; each gets the voter's
** whole stake (stake.h) as weight. The candidates are the validators in
** state (the genesis record's membership): only they have keys a block's
** signature can be checked with. A producer's total is kept in state and
** changed where a weight changes (a vote, a stake, an unstake), so ranking
** the producers reads one record per validator, never the voters.
**
** State keys (values canonical msgpack):
**   "v" NAME   the producers NAME approves: an array of names, sorted
**              (absent: none)
**   "V" NAME   the weight of the votes for NAME (uint; absent: 0)
** Everything is read from the overlay: every node decides alike.
** int results: 0 or a negative LN_E* code (err.h); LN_EIO when a record
** does not decode.
*/
#ifndef LN_VOTE_H
#define LN_VOTE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "state.h"

#define LN_VOTES_MAX 30                /* producers one account may approve */

typedef char ln_vote_name[LN_NAME_MAX + 1];

/* voter's votes into names (LN_VOTES_MAX of room), sorted; *n = 0 when it
** has none. */
int ln_vote_load(ln_overlay *ov, const char *voter, ln_vote_name *names, size_t *n);

/* The weight of the votes for producer into *w. */
int ln_vote_weight(ln_overlay *ov, const char *producer, uint64_t *w);

/* voter now approves names[0..n) (n 0: none), its stake moved from the
** producers it approved to these. Refused, with why: more than
** LN_VOTES_MAX (LN_ETOOBIG), a name twice (LN_EINVAL), a name that is not
** a validator (LN_ENOTFOUND). A voter without stake may vote: its votes
** weigh 0 until it stakes. */
int ln_vote_set(ln_overlay *ov, const char *voter, const ln_vote_name *names, size_t n,
                char *why, size_t whylen);

/* voter's stake went up by add or down by sub: so do the totals of the
** producers it approves. */
int ln_vote_restake(ln_overlay *ov, const char *voter, uint64_t add, uint64_t sub);

/* The top `want` validators by weight (ties: the lower name first), sorted
** by name, into names (LN_VOTES_MAX of room; want is clamped to it);
** *n: how many (fewer when there are fewer validators). Validators no one
** voted for weigh 0, so before any vote this is the first `want` names.
** ov is the state after block height: a validator jailed there (valset.h,
** until > height) is left out, unless every one is. */
int ln_vote_top(ln_overlay *ov, uint64_t height, size_t want, ln_vote_name *names, size_t *n);

#endif
