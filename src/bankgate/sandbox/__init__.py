"""The other side: simulated banks speaking the host API protocol, with fault injection.

Never imports services, store, api, cli or bootstrap; only domain, crypto and errors.
Modules are imported where used (`bankgate.sandbox.run`, `.demo_world`), so importing this
package does nothing.
"""
