#!/bin/sh
# Writes the three files ticketing.conf.template includes, next to nginx.conf. envsubst cannot
# loop, so the lists are turned into directives here: the nginx image runs this from
# /docker-entrypoint.d/ (compose), and deploy/local/gateway.py runs it for `make up` and tests.
#
#   GATEWAY_TRUSTED_PROXIES  CIDRs or addresses, space- or comma-separated, whose
#                            X-Forwarded-For is believed (empty: no one's)
#   GATEWAY_TLS_LISTEN       optional https listen address (e.g. 443), with
#   GATEWAY_TLS_CERT, GATEWAY_TLS_KEY  the PEM certificate chain and key files
#   STRIPE_MODE, STRIPE_EMULATOR_UPSTREAM  with STRIPE_MODE=emulator, the emulator's
#                            host:port: its 3-D Secure challenge pages (/_emulator/3ds/) are
#                            served through the gateway, where browsers can reach them
#
# TICKETING_NGINX_CONF_DIR: where to write (default /etc/nginx, the image's conf prefix).
set -euf # -f: no globbing of the split values

dir=${TICKETING_NGINX_CONF_DIR:-/etc/nginx}

proxies=""
for cidr in $(printf '%s' "${GATEWAY_TRUSTED_PROXIES:-}" | tr ',' ' '); do
    # Only address characters: the value becomes an nginx directive.
    case $cidr in
        *[!0-9A-Fa-f.:/]*)
            echo "GATEWAY_TRUSTED_PROXIES: not an address or CIDR: $cidr" >&2
            exit 2
            ;;
    esac
    proxies="${proxies}set_real_ip_from ${cidr};
"
done
printf '%s' "$proxies" >"$dir/ticketing-trusted-proxies.conf"

tls=""
if [ -n "${GATEWAY_TLS_LISTEN:-}" ]; then
    for value in "$GATEWAY_TLS_LISTEN" "${GATEWAY_TLS_CERT:-}" "${GATEWAY_TLS_KEY:-}"; do
        case $value in
            "" | *[!A-Za-z0-9._:/\[\]-]*)
                echo "GATEWAY_TLS_LISTEN needs GATEWAY_TLS_CERT and GATEWAY_TLS_KEY (plain paths)" >&2
                exit 2
                ;;
        esac
    done
    tls="listen ${GATEWAY_TLS_LISTEN} ssl;
ssl_certificate ${GATEWAY_TLS_CERT};
ssl_certificate_key ${GATEWAY_TLS_KEY};
ssl_protocols TLSv1.2 TLSv1.3;
"
fi
printf '%s' "$tls" >"$dir/ticketing-tls.conf"

emulator=""
if [ "${STRIPE_MODE:-}" = emulator ] && [ -n "${STRIPE_EMULATOR_UPSTREAM:-}" ]; then
    case $STRIPE_EMULATOR_UPSTREAM in
        *[!A-Za-z0-9._:-]*)
            echo "STRIPE_EMULATOR_UPSTREAM: not a host:port: $STRIPE_EMULATOR_UPSTREAM" >&2
            exit 2
            ;;
    esac
    # Only when the emulator is in use: otherwise there is no such page, and no such host.
    # Only the challenge pages: /_emulator/faults (fault injection) stays off the gateway.
    emulator="location /_emulator/3ds/ { proxy_pass http://${STRIPE_EMULATOR_UPSTREAM}; }
"
fi
printf '%s' "$emulator" >"$dir/ticketing-emulator.conf"
