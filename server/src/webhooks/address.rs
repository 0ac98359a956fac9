//! Where webhooks may go. A customer must not be able to make the server call into its own
//! network (SSRF): targets resolving to loopback, private, link-local, shared (CGNAT),
//! unspecified, multicast or cloud-metadata addresses are refused, unless the operator starts
//! the server with `--allow-private-webhooks`. Checked when an endpoint is created or changed,
//! and again at every delivery by the client's resolver (a name may resolve elsewhere later).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::Url;

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("`url` must be an absolute http:// or https:// URL")]
    Malformed,
    #[error("`url` must use http or https")]
    Scheme,
    #[error("`url` must not carry a user name or password; authenticate with the signature")]
    Credentials,
    #[error("the host {host} does not resolve: {detail}")]
    Unresolvable { host: String, detail: String },
    #[error("the host {host} resolves to {ip}, a {kind} address; webhooks go to public addresses only")]
    Private { host: String, ip: IpAddr, kind: &'static str },
}

/// Why `ip` may not receive webhooks, or `None` when it may.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let within = |net: &str| net.parse::<Ipv4Net>().is_ok_and(|n| n.contains(&ip));
    if ip.is_unspecified() || within("0.0.0.0/8") {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("cloud metadata")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() {
        Some("private")
    } else if within("100.64.0.0/10") {
        Some("shared (CGNAT)")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("broadcast or multicast")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let within = |net: &str| net.parse::<Ipv6Net>().is_ok_and(|n| n.contains(&ip));
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("cloud metadata")
    } else if ip.is_unicast_link_local() {
        Some("link-local")
    } else if ip.is_unique_local() {
        Some("private (unique local)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if within("64:ff9b:1::/48") || within("2002::/16") {
        // Local-use NAT64 and 6to4 can reach private IPv4 space.
        Some("translated private")
    } else {
        None
    }
}

/// Parses a webhook URL and checks its form (http or https, a host, no credentials).
pub fn parse(url: &str) -> Result<Url, AddressError> {
    let parsed = Url::parse(url.trim()).map_err(|_| AddressError::Malformed)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(AddressError::Scheme);
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(AddressError::Malformed);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(AddressError::Credentials);
    }
    Ok(parsed)
}

/// The URL's addresses, all allowed; an error names the first that is not.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), AddressError> {
    if allow_private {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| AddressError::Unresolvable { host: host.clone(), detail: e.to_string() })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(AddressError::Unresolvable { host, detail: "no addresses".into() });
    }
    for addr in addrs {
        if let Some(kind) = forbidden(addr.ip()) {
            return Err(AddressError::Private { host, ip: addr.ip(), kind });
        }
    }
    Ok(())
}

/// The delivery client's resolver: the system's, minus forbidden addresses. A name that
/// resolves only to forbidden ones fails to connect, with the reason in the attempt log.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all.iter().copied().filter(|a| forbidden(a.ip()).is_none()).collect();
            if allowed.is_empty()
                && let Some(first) = all.first()
            {
                let kind = forbidden(first.ip()).unwrap_or("forbidden");
                let e = AddressError::Private { host, ip: first.ip(), kind };
                return Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_some(), "{ip} should be refused");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "100.128.0.1", "8.8.8.8"] {
            assert!(forbidden(ip.parse().unwrap()).is_none(), "{ip} should be allowed");
        }
    }

    #[test]
    fn urls_are_checked_for_form() {
        assert!(parse("https://hooks.example.com/relay").is_ok());
        assert!(matches!(parse("ftp://example.com/"), Err(AddressError::Scheme)));
        assert!(matches!(parse("https://user:pw@example.com/"), Err(AddressError::Credentials)));
        assert!(matches!(parse("not a url"), Err(AddressError::Malformed)));
    }

    #[tokio::test]
    async fn literal_private_targets_are_refused_unless_allowed() {
        let url = parse("http://127.0.0.1:9/hook").unwrap();
        assert!(matches!(check(&url, false).await, Err(AddressError::Private { kind: "loopback", .. })));
        assert!(check(&url, true).await.is_ok());
        let url = parse("http://[::ffff:192.168.0.1]/").unwrap();
        assert!(check(&url, false).await.is_err());
    }
}
