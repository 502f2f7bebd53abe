//! buildbot-plugin-sdk: what a buildbot-www UI plugin author depends on.
