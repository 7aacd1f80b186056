/* tests/plugins/no_entry.c — a deliberately broken plugin: a shared object that exports no
 * tfx_plugin_entry, which the registry must skip by name of file and symbol. */
__attribute__((visibility("default"))) int not_a_plugin(void) { return 42; }
