/* t/plugins/nosymbol.c - a shared object that is not a sutra plugin. */
int not_a_plugin(void);
int not_a_plugin(void)
{
	return 42;
}
