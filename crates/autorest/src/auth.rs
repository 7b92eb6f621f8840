//! AuthenticationMethod → the flow that authorizes API requests.

use std::sync::Arc;

use connectkit_core::client::HttpService;
use connectkit_core::{AccessTokenAuth, AuthFlow, NoAuth, Properties, Result, StaticHeaderAuth};
use connectkit_oauth_refresh::{GrantType, RefreshTokenFlowBuilder};

use crate::error::AutoRestError;

mod auth_methods;

/// The authentication methods this connector supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    None,
    /// `OAuth2`: the refresh token grant, or client credentials when neither
    /// RefreshToken nor TokenFile is set (as the vendor's legacy value does).
    OAuth2,
    RefreshToken,
    ClientCredentials,
    /// `OAuth2-JWTBearer`: RFC 7523's JWT bearer grant (JWTCertStore).
    JwtBearer,
    HttpHeader,
    BearerToken,
    Basic,
    UrlParameter,
}

impl Method {
    pub fn from_properties(props: &Properties) -> Result<Method, AutoRestError> {
        let Some(v) = props.get_str("AuthenticationMethod") else {
            return Ok(Method::None);
        };
        Ok(match v.trim().to_ascii_lowercase().as_str() {
            "none" => Method::None,
            "oauth2" => Method::OAuth2,
            "oauth2-refreshtoken" => Method::RefreshToken,
            "oauth2-clientcredentials" => Method::ClientCredentials,
            "oauth2-jwtbearer" => Method::JwtBearer,
            "httpheader" => Method::HttpHeader,
            "bearertoken" => Method::BearerToken,
            "basic" => Method::Basic,
            "urlparameter" => Method::UrlParameter,
            _ => return Err(AutoRestError::UnsupportedAuthMethod(v.to_owned())),
        })
    }
}

/// Builds the flow for the properties; a model file's `#tokenuri` and
/// `#scope` fill in TokenURI and Scope when those are absent.
pub(crate) fn flow(
    props: &Properties,
    model_token_uri: Option<&str>,
    model_scope: Option<&str>,
    service: Option<&Arc<dyn HttpService>>,
) -> Result<Arc<dyn AuthFlow>> {
    let method = Method::from_properties(props)?;
    let method_name = props
        .get_str("AuthenticationMethod")
        .unwrap_or("None")
        .to_owned();
    let need = |name: &'static str| {
        props
            .secret(name)
            .filter(|_| props.contains(name))
            .ok_or_else(|| AutoRestError::MissingAuthProperty {
                method: method_name.clone(),
                property: name,
            })
    };
    Ok(match method {
        Method::None => Arc::new(NoAuth),
        Method::HttpHeader => {
            let name = props
                .get_str("AuthHeader")
                .ok_or_else(|| AutoRestError::MissingAuthProperty {
                    method: method_name.clone(),
                    property: "AuthHeader",
                })?
                .to_owned();
            Arc::new(StaticHeaderAuth::new(&name, need("SecurityToken")?)?)
        }
        Method::BearerToken => Arc::new(StaticHeaderAuth::bearer(need("SecurityToken")?)?),
        Method::Basic => {
            let user = props
                .get_str("User")
                .ok_or_else(|| AutoRestError::MissingAuthProperty {
                    method: method_name.clone(),
                    property: "User",
                })?;
            Arc::new(auth_methods::basic(user, &need("Password")?)?)
        }
        Method::UrlParameter => {
            let name =
                props
                    .get_str("AuthParam")
                    .ok_or_else(|| AutoRestError::MissingAuthProperty {
                        method: method_name.clone(),
                        property: "AuthParam",
                    })?;
            Arc::new(auth_methods::UrlParameterAuth::new(
                name,
                need("SecurityToken")?,
            )?)
        }
        // An AccessToken with nothing that renews it: sent until rejected.
        Method::OAuth2 | Method::RefreshToken
            if props.contains("AccessToken")
                && !["RefreshToken", "TokenFile", "ClientSecret", "JWTCertStore"]
                    .iter()
                    .any(|p| props.contains(p)) =>
        {
            Arc::new(AccessTokenAuth::new(need("AccessToken")?)?)
        }
        Method::OAuth2 | Method::RefreshToken | Method::ClientCredentials | Method::JwtBearer => {
            let grant = match method {
                Method::RefreshToken => GrantType::RefreshToken,
                Method::ClientCredentials => GrantType::ClientCredentials,
                Method::JwtBearer => GrantType::JwtBearer,
                _ => GrantType::for_oauth2(props),
            };
            let mut props = props.clone();
            if !props.contains("TokenURI")
                && let Some(uri) = model_token_uri
            {
                props.set("TokenURI", uri);
            }
            let mut b = RefreshTokenFlowBuilder::from_properties_for(&props, grant)?;
            if !props.contains("Scope")
                && let Some(scope) = model_scope
            {
                b = b.scope(scope);
            }
            if let Some(service) = service {
                b = b.http_service(Arc::clone(service));
            }
            Arc::new(b.build()?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> Properties {
        let url: connectkit_core::ConnectionUrl = format!("autorest:{text}").parse().unwrap();
        url.into_parts().1
    }

    #[test]
    fn methods_and_their_required_properties() {
        assert!(flow(&props("Sample=x"), None, None, None).is_ok());
        let e = flow(&props("AuthenticationMethod=Kerberos"), None, None, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("supported: None, OAuth2-RefreshToken"),
            "{e}"
        );
        let e = flow(
            &props("AuthenticationMethod=HttpHeader;SecurityToken=s"),
            None,
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "AuthenticationMethod HttpHeader needs property AuthHeader"
        );
        let e = flow(&props("AuthenticationMethod=BearerToken"), None, None, None).unwrap_err();
        assert!(e.to_string().contains("SecurityToken"), "{e}");
        assert!(
            flow(
                &props("AuthenticationMethod=BearerToken;SecurityToken=t"),
                None,
                None,
                None
            )
            .is_ok()
        );
        let e = flow(
            &props("AuthenticationMethod=OAuth2-RefreshToken;ClientID=a;ClientSecret=b;TokenURI=https://t/x"),
            None,
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("RefreshToken"), "{e}");
        for cc in ["OAuth2", "OAuth2-ClientCredentials"] {
            let p = props(&format!(
                "AuthenticationMethod={cc};ClientID=a;ClientSecret=b;TokenURI=https://t/x"
            ));
            assert!(flow(&p, None, None, None).is_ok(), "{cc}");
        }
        let e = flow(
            &props("AuthenticationMethod=OAuth2-ClientCredentials;ClientID=a;TokenURI=https://t/x"),
            None,
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("ClientSecret"), "{e}");
        let ok = props(
            "AuthenticationMethod=OAuth2-RefreshToken;ClientID=a;ClientSecret=b;RefreshToken=c",
        );
        assert!(
            flow(&ok, None, None, None)
                .unwrap_err()
                .to_string()
                .contains("TokenURI")
        );
        assert!(
            flow(
                &ok,
                Some("POST https://t.example/token"),
                Some("read"),
                None
            )
            .is_ok()
        );
    }
}
