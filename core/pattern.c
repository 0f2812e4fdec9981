/*
** pattern.c -- the sandbox's pattern matcher (see pattern.h).
**
** Lua 5.1's matcher (lstrlib.c, MIT licence), with ASCII classes that no
** locale changes, a recursion bound, and a step count charged as it goes:
** backtracking (("a*"):rep(20) .. "b") costs what it does, not what the
** lengths suggest.
*/
#include <string.h>

#include "pattern.h"
#include "sandbox.h"
#include "whitelist.h"

#define MAXCAPTURES   32
#define MATCH_DEPTH   200
#define CAP_UNFINISHED (-1)
#define CAP_POSITION   (-2)
#define L_ESC          '%'
#define SPECIALS       "^$*+?.([%-"
#define STEP_CHUNK     1024

typedef struct {
    const char *src_init, *src_end;
    lua_State *L;
    int level, depth;
    uint64_t steps;                  /* not yet charged */
    struct { const char *init; ptrdiff_t len; } capture[MAXCAPTURES];
} mstate;

#define uchar(c) ((unsigned char)(c))

static void steps_charge(mstate *ms, int all)
{
    uint64_t whole = ms->steps / LN_GAS_MATCH_STEPS;
    if (all && ms->steps % LN_GAS_MATCH_STEPS) whole++;
    if (!whole) return;
    ms->steps = all ? 0 : ms->steps % LN_GAS_MATCH_STEPS;
    ln_sandbox_charge(ms->L, whole);
}

static inline void step(mstate *ms, uint64_t n)
{
    ms->steps += n;
    if (ms->steps >= STEP_CHUNK) steps_charge(ms, 0);
}

static int c_alpha(int c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int c_digit(int c) { return c >= '0' && c <= '9'; }

static int match_class(int c, int cl)
{
    int res;
    switch (cl | 0x20) {
    case 'a': res = c_alpha(c); break;
    case 'c': res = c < 32 || c == 127; break;
    case 'd': res = c_digit(c); break;
    case 'g': res = c > 32 && c < 127; break;
    case 'l': res = c >= 'a' && c <= 'z'; break;
    case 'p': res = c > 32 && c < 127 && !c_alpha(c) && !c_digit(c); break;
    case 's': res = c == ' ' || (c >= '\t' && c <= '\r'); break;
    case 'u': res = c >= 'A' && c <= 'Z'; break;
    case 'w': res = c_alpha(c) || c_digit(c); break;
    case 'x': res = c_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); break;
    case 'z': res = c == 0; break;
    default: return cl == c;
    }
    if (!c_alpha(cl)) return cl == c;
    return (cl >= 'a') ? res : !res;
}

static int check_capture(mstate *ms, int l)
{
    l -= '1';
    if (l < 0 || l >= ms->level || ms->capture[l].len == CAP_UNFINISHED)
        return luaL_error(ms->L, "invalid capture index");
    return l;
}

static int capture_to_close(mstate *ms)
{
    int level = ms->level;
    for (level--; level >= 0; level--)
        if (ms->capture[level].len == CAP_UNFINISHED) return level;
    return luaL_error(ms->L, "invalid pattern capture");
}

static const char *classend(mstate *ms, const char *p)
{
    switch (*p++) {
    case L_ESC:
        if (*p == '\0') luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[':
        if (*p == '^') p++;
        do {
            if (*p == '\0') luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*(p++) == L_ESC && *p != '\0') p++;
        } while (*p != ']');
        return p + 1;
    default:
        return p;
    }
}

static int matchbracketclass(int c, const char *p, const char *ec)
{
    int sig = 1;
    if (*(p + 1) == '^') {
        sig = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == L_ESC) {
            p++;
            if (match_class(c, uchar(*p))) return sig;
        } else if (*(p + 1) == '-' && p + 2 < ec) {
            p += 2;
            if (uchar(*(p - 2)) <= c && c <= uchar(*p)) return sig;
        } else if (uchar(*p) == c) {
            return sig;
        }
    }
    return !sig;
}

static int singlematch(int c, const char *p, const char *ep)
{
    switch (*p) {
    case '.': return 1;
    case L_ESC: return match_class(c, uchar(*(p + 1)));
    case '[': return matchbracketclass(c, p, ep - 1);
    default: return uchar(*p) == c;
    }
}

static const char *match(mstate *ms, const char *s, const char *p);

static const char *matchbalance(mstate *ms, const char *s, const char *p)
{
    if (*p == 0 || *(p + 1) == 0)
        luaL_error(ms->L, "unbalanced pattern");
    if (s >= ms->src_end || *s != *p) return NULL;
    int b = *p, e = *(p + 1), cont = 1;
    while (++s < ms->src_end) {
        step(ms, 1);
        if (*s == e) {
            if (--cont == 0) return s + 1;
        } else if (*s == b) {
            cont++;
        }
    }
    return NULL;
}

static const char *max_expand(mstate *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;
    while (s + i < ms->src_end && singlematch(uchar(*(s + i)), p, ep)) {
        step(ms, 1);
        i++;
    }
    while (i >= 0) {
        const char *res = match(ms, s + i, ep + 1);
        if (res) return res;
        i--;
    }
    return NULL;
}

static const char *min_expand(mstate *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *res = match(ms, s, ep + 1);
        if (res) return res;
        if (s < ms->src_end && singlematch(uchar(*s), p, ep)) s++;
        else return NULL;
    }
}

static const char *start_capture(mstate *ms, const char *s, const char *p, int what)
{
    int level = ms->level;
    if (level >= MAXCAPTURES) luaL_error(ms->L, "too many captures");
    ms->capture[level].init = s;
    ms->capture[level].len = what;
    ms->level = level + 1;
    const char *res = match(ms, s, p);
    if (res == NULL) ms->level--;
    return res;
}

static const char *end_capture(mstate *ms, const char *s, const char *p)
{
    int l = capture_to_close(ms);
    ms->capture[l].len = s - ms->capture[l].init;
    const char *res = match(ms, s, p);
    if (res == NULL) ms->capture[l].len = CAP_UNFINISHED;
    return res;
}

static const char *match_capture(mstate *ms, const char *s, int l)
{
    l = check_capture(ms, l);
    size_t len = (size_t)ms->capture[l].len;
    step(ms, len);
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->capture[l].init, s, len) == 0)
        return s + len;
    return NULL;
}

static const char *do_match(mstate *ms, const char *s, const char *p)
{
init:
    step(ms, 1);
    switch (*p) {
    case '(':
        if (*(p + 1) == ')') return start_capture(ms, s, p + 2, CAP_POSITION);
        return start_capture(ms, s, p + 1, CAP_UNFINISHED);
    case ')':
        return end_capture(ms, s, p + 1);
    case L_ESC:
        switch (*(p + 1)) {
        case 'b':
            s = matchbalance(ms, s, p + 2);
            if (s == NULL) return NULL;
            p += 4;
            goto init;
        case 'f': {
            p += 2;
            if (*p != '[') luaL_error(ms->L, "missing '[' after '%%f' in pattern");
            const char *ep = classend(ms, p);
            char previous = (s == ms->src_init) ? '\0' : *(s - 1);
            char current = (s < ms->src_end) ? *s : '\0';
            if (matchbracketclass(uchar(previous), p, ep - 1) ||
                !matchbracketclass(uchar(current), p, ep - 1)) return NULL;
            p = ep;
            goto init;
        }
        default:
            if (c_digit(uchar(*(p + 1)))) {
                s = match_capture(ms, s, uchar(*(p + 1)));
                if (s == NULL) return NULL;
                p += 2;
                goto init;
            }
            goto dflt;
        }
    case '\0':
        return s;
    case '$':
        if (*(p + 1) == '\0') return (s == ms->src_end) ? s : NULL;
        goto dflt;
    default:
    dflt: {
        const char *ep = classend(ms, p);
        int m = s < ms->src_end && singlematch(uchar(*s), p, ep);
        switch (*ep) {
        case '?': {
            const char *res;
            if (m && (res = match(ms, s + 1, ep + 1)) != NULL) return res;
            p = ep + 1;
            goto init;
        }
        case '*':
            return max_expand(ms, s, p, ep);
        case '+':
            return m ? max_expand(ms, s + 1, p, ep) : NULL;
        case '-':
            return min_expand(ms, s, p, ep);
        default:
            if (!m) return NULL;
            s++;
            p = ep;
            goto init;
        }
    }
    }
}

static const char *match(mstate *ms, const char *s, const char *p)
{
    if (++ms->depth > MATCH_DEPTH) luaL_error(ms->L, "pattern too complex");
    const char *res = do_match(ms, s, p);
    ms->depth--;
    return res;
}

static void ms_init(mstate *ms, lua_State *L, const char *s, size_t l)
{
    ms->L = L;
    ms->src_init = s;
    ms->src_end = s + l;
    ms->level = ms->depth = 0;
    ms->steps = 0;
}

/* Plain search, counting the bytes compared. */
static const char *lmemfind(mstate *ms, const char *s1, size_t l1, const char *s2, size_t l2)
{
    if (l2 == 0) return s1;
    if (l2 > l1) return NULL;
    for (size_t i = 0; i + l2 <= l1; i++) {
        size_t k = 0;
        while (k < l2 && s1[i + k] == s2[k]) k++;
        step(ms, k + 1);
        if (k == l2) return s1 + i;
    }
    return NULL;
}

static void push_onecapture(mstate *ms, int i, const char *s, const char *e)
{
    if (i >= ms->level) {
        if (i == 0) lua_pushlstring(ms->L, s, (size_t)(e - s));
        else luaL_error(ms->L, "invalid capture index");
    } else {
        ptrdiff_t l = ms->capture[i].len;
        if (l == CAP_UNFINISHED) luaL_error(ms->L, "unfinished capture");
        if (l == CAP_POSITION)
            lua_pushinteger(ms->L, ms->capture[i].init - ms->src_init + 1);
        else
            lua_pushlstring(ms->L, ms->capture[i].init, (size_t)l);
    }
}

static int push_captures(mstate *ms, const char *s, const char *e)
{
    int nlevels = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->L, nlevels, "too many captures");
    for (int i = 0; i < nlevels; i++) push_onecapture(ms, i, s, e);
    return nlevels;
}

static ptrdiff_t posrelat(ptrdiff_t pos, size_t len)
{
    if (pos < 0) pos += (ptrdiff_t)len + 1;
    return pos >= 0 ? pos : 0;
}

static int find_aux(lua_State *L, int find)
{
    size_t l1, l2;
    const char *s = luaL_checklstring(L, 1, &l1);
    const char *p = luaL_checklstring(L, 2, &l2);
    ptrdiff_t init = posrelat((ptrdiff_t)ln__whitelist_intarg(L, 3, 1), l1) - 1;
    if (init < 0) init = 0;
    else if ((size_t)init > l1) init = (ptrdiff_t)l1;
    ln_sandbox_charge(L, LN_GAS_MATCH(l1, l2));
    mstate ms;
    ms_init(&ms, L, s, l1);
    if (find && (lua_toboolean(L, 4) || strpbrk(p, SPECIALS) == NULL)) {
        const char *s2 = lmemfind(&ms, s + init, l1 - (size_t)init, p, l2);
        steps_charge(&ms, 1);
        if (s2) {
            lua_pushinteger(L, s2 - s + 1);
            lua_pushinteger(L, s2 - s + (ptrdiff_t)l2);
            return 2;
        }
    } else {
        int anchor = (*p == '^') ? (p++, 1) : 0;
        const char *s1 = s + init;
        do {
            const char *res;
            ms.level = 0;
            if ((res = match(&ms, s1, p)) != NULL) {
                steps_charge(&ms, 1);
                if (find) {
                    lua_pushinteger(L, s1 - s + 1);
                    lua_pushinteger(L, res - s);
                    return push_captures(&ms, NULL, 0) + 2;
                }
                return push_captures(&ms, s1, res);
            }
        } while (s1++ < ms.src_end && !anchor);
        steps_charge(&ms, 1);
    }
    lua_pushnil(L);
    return 1;
}

int ln__pattern_find(lua_State *L) { return find_aux(L, 1); }
int ln__pattern_match(lua_State *L) { return find_aux(L, 0); }

/* upvalues: 1 subject, 2 pattern, 3 position (0-based) */
static int gmatch_aux(lua_State *L)
{
    size_t ls;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tostring(L, lua_upvalueindex(2));
    mstate ms;
    ms_init(&ms, L, s, ls);
    for (const char *src = s + lua_tointeger(L, lua_upvalueindex(3)); src <= ms.src_end; src++) {
        const char *e;
        ms.level = 0;
        if ((e = match(&ms, src, p)) != NULL) {
            lua_Integer newstart = e - s;
            if (e == src) newstart++;                 /* empty match: go on */
            lua_pushinteger(L, newstart);
            lua_replace(L, lua_upvalueindex(3));
            steps_charge(&ms, 1);
            return push_captures(&ms, src, e);
        }
    }
    lua_pushinteger(L, (lua_Integer)ls + 1);
    lua_replace(L, lua_upvalueindex(3));
    steps_charge(&ms, 1);
    return 0;
}

int ln__pattern_gmatch(lua_State *L)
{
    size_t ls, lp;
    luaL_checklstring(L, 1, &ls);
    luaL_checklstring(L, 2, &lp);
    ln_sandbox_charge(L, LN_GAS_MATCH(ls, lp));
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, gmatch_aux, 3);
    return 1;
}

static void add_s(mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    const char *news = lua_tolstring(ms->L, 3, &l);
    for (size_t i = 0; i < l; i++) {
        step(ms, 1);
        if (news[i] != L_ESC) {
            luaL_addchar(b, news[i]);
            continue;
        }
        i++;
        if (!c_digit(uchar(news[i]))) {
            luaL_addchar(b, news[i]);
        } else if (news[i] == '0') {
            step(ms, (uint64_t)(e - s));
            luaL_addlstring(b, s, (size_t)(e - s));
        } else {
            push_onecapture(ms, news[i] - '1', s, e);
            step(ms, lua_objlen(ms->L, -1));
            luaL_addvalue(b);
        }
    }
}

static int gettable(lua_State *L)
{
    lua_gettable(L, 1);
    return 1;
}

static void add_value(mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->L;
    switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
        add_s(ms, b, s, e);
        return;
    case LUA_TFUNCTION: {
        lua_pushvalue(L, 3);
        int n = push_captures(ms, s, e);
        steps_charge(ms, 1);
        ln__sandbox_call(L, n, 1);
        break;
    }
    case LUA_TTABLE:                                  /* __index may call back */
        lua_pushcfunction(L, gettable);
        lua_pushvalue(L, 3);
        push_onecapture(ms, 0, s, e);
        steps_charge(ms, 1);
        ln__sandbox_call(L, 2, 1);
        break;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    step(ms, lua_objlen(L, -1));
    luaL_addvalue(b);
}

int ln__pattern_gsub(lua_State *L)
{
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    int max_s = (int)ln__whitelist_intarg(L, 4, (lua_Number)srcl + 1);
    int anchor = (*p == '^') ? (p++, 1) : 0;
    int n = 0;
    luaL_argcheck(L, tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                     tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                  "string/function/table expected");
    ln_sandbox_charge(L, LN_GAS_MATCH(srcl, lp));
    mstate ms;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    ms_init(&ms, L, src, srcl);
    while (n < max_s) {
        const char *e;
        ms.level = 0;
        e = match(&ms, src, p);
        if (e) {
            n++;
            add_value(&ms, &b, src, e);
        }
        if (e && e > src) {
            src = e;
        } else if (src < ms.src_end) {
            step(&ms, 1);
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    step(&ms, (uint64_t)(ms.src_end - src));
    steps_charge(&ms, 1);
    luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}
