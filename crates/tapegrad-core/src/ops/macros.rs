//! The two macros the op families are written with: `unary_ops!` (a family of one-input
//! elementwise ops, one row per op) and `var_methods!` (a `Var` method and its `try_` twin).

/// Defines a family of one-input elementwise ops without parameters, one row per op: its name,
/// its formula on a number and its backward rule (`gy` the output's gradient, `y` the output),
/// with the derivative in the row's doc comment. Expands to the family's enum and its three
/// exhaustive matches (`name`, `kernel`, `rule`). A formula may be followed by `; long` and a
/// second one, vectorisable, for long arrays (see `Kernel::unary_long`).
macro_rules! unary_ops {
    (@kernel $k:ident, |$a:ident| $f:expr) => {
        $k.unary(|$a: F| $f)
    };
    (@kernel $k:ident, |$a:ident| $f:expr, |$b:ident| $long:expr) => {
        $k.unary_long(|$a: F| $f, |$b: F| $long)
    };
    (
        $(#[$meta:meta])*
        enum $Family:ident {
            $(
                $(#[$op_meta:meta])*
                $Op:ident(
                    $name:literal,
                    |$a:ident| $f:expr $(; long |$b:ident| $long:expr)?,
                    |$x:pat_param, $y:pat_param, $gy:pat_param| $rule:expr
                ),
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum $Family {
            $($(#[$op_meta])* $Op,)*
        }

        impl $Family {
            /// The op's name, as its method is spelled.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $($Family::$Op => $name,)*
                }
            }

            /// The formula, handed to an elementwise kernel.
            #[cfg_attr(not(debug_assertions), inline(always))]
            pub(crate) fn kernel<F: Float, K: $crate::ops::kernel::Kernel<F>>(self, k: K) -> K::Out {
                match self {
                    $($Family::$Op => unary_ops!(@kernel k, |$a| $f $(, |$b| $long)?),)*
                }
            }

            /// The backward rule: the input's gradient, or `None` where none flows.
            #[cfg_attr(not(debug_assertions), inline(always))]
            pub(crate) fn rule<F: Float, T: $crate::ops::Value<F>>(
                self,
                x: &T,
                y: &T,
                gy: T,
            ) -> Option<T> {
                match self {
                    $($Family::$Op => {
                        let ($x, $y, $gy) = (x, y, gy);
                        $rule
                    })*
                }
            }
        }
    };
}

/// Defines `Var` methods in pairs: the panicking form, with its docs (and example), and its
/// fallible `try_` twin. `self` is named in the signature so that the body can use it. The
/// bracketed arguments after the signature are those the `try_` twin's example calls it with, on
/// the 1 x 2 array `[[0.5, 1.5]]`. Then either:
/// - `= OP;`, a built-in op of `self` alone (`Math::Exp`, `(ScalarOp::Pow, c)`): both methods
///   apply it, the panicking one through `Graph::apply1_or_panic`, which hands
///   the result of the scalar fast path back in registers;
/// - or the `try_` twin's body, a block, which the panicking form calls.
macro_rules! var_methods {
    // The panicking method's body.
    (@panicking $self:ident, $try:ident, [$($arg:ident),*], [$op:expr], []) => {
        $self.graph.apply1_or_panic($op, [$self])
    };
    (@panicking $self:ident, $try:ident, [$($arg:ident),*], [], [$body:block]) => {
        $crate::error::or_panic($self.$try($($arg),*))
    };
    // The `try_` twin's body.
    (@fallible $self:ident, $name:ident, [$op:expr], []) => {
        $self.graph.apply1($op, &[$self])
    };
    (@fallible $self:ident, $name:ident, [], [$body:block]) => {
        // (errors from the ops inside name this one)
        $crate::error::named(stringify!($name), || $body)
    };
    // The `try_` twin's errors.
    (@errors [$op:expr]) => {
        "[`Error::StaleVar`](crate::Error::StaleVar) for a handle from before a `clear`; \
         [`Error::Anomaly`](crate::Error::Anomaly) for a result that is not finite while \
         [anomaly detection](crate::Graph::set_detect_anomaly) is on."
    };
    (@errors []) => {
        "An [`Error`](crate::Error) naming the op for an argument or shape it cannot take; \
         [`Error::GraphMismatch`](crate::Error::GraphMismatch) and \
         [`Error::StaleVar`](crate::Error::StaleVar) for bad handles."
    };
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $try:ident ($self:ident $(, $arg:ident : $ty:ty)* $(,)?)
            [$($example:expr),*] $(= $op:expr;)? $($body:block)?
    )*) => {
        impl<'g, F: $crate::Float> $crate::Var<'g, F> {
            $(
                $(#[$doc])*
                ///
                /// # Panics
                #[doc = concat!(
                    "With the message of [`Var::", stringify!($try), "`](crate::Var::",
                    stringify!($try), ")'s error."
                )]
                #[inline(never)] // (see `Graph::apply1`: one copy of the op's path per program)
                #[track_caller]
                pub fn $name($self $(, $arg: $ty)*) -> $crate::Var<'g, F> {
                    var_methods!(@panicking $self, $try, [$($arg),*], [$($op)?], [$($body)?])
                }

                #[doc = concat!(
                    "Fallible [`Var::", stringify!($name), "`](crate::Var::", stringify!($name), ")."
                )]
                ///
                /// ```
                /// use tapegrad_core::{Error, Graph, ndarray::array};
                /// let g: Graph = Graph::new();
                /// let x = g.var(array![[0.5, 1.5]]);
                #[doc = concat!(
                    "assert!(x.", stringify!($try), "(", stringify!($($example),*), ").is_ok());"
                )]
                /// g.clear(); // `x` is now a handle from before the clear
                #[doc = concat!(
                    "let e = x.", stringify!($try), "(", stringify!($($example),*), ").unwrap_err();"
                )]
                /// assert!(matches!(e, Error::StaleVar));
                /// ```
                ///
                /// # Errors
                #[doc = var_methods!(@errors [$($op)?])]
                #[inline(never)] // (see `Graph::apply1`: one copy of the op's path per program)
                pub fn $try($self $(, $arg: $ty)*) -> $crate::error::Result<$crate::Var<'g, F>> {
                    var_methods!(@fallible $self, $name, [$($op)?], [$($body)?])
                }
            )*
        }
    };
}
