/* gw_target.h - the forms of a request target (RFC 9112 section 3.2). */
#ifndef GW_TARGET_H
#define GW_TARGET_H

/*
 * gw_target_origin_path returns the path of a request target in absolute
 * form ("http://host/v1/..."), which RFC 9112 section 3.2.2 requires servers
 * to accept, as a pointer into target, or "/" when it has no path. The host
 * is not compared with anything, as that section requires, but it must be a
 * valid host with an optional port: no userinfo, no empty host (RFC 9110
 * sections 4.2.4 and 4.2.1). Any other target, and an absolute one with an
 * invalid authority, is returned as it is, so that it matches no route.
 * Call it on the target as received, before percent escapes are decoded.
 */
const char *gw_target_origin_path(const char *target);

#endif
