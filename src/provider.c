/*-------------------------------------------------------------------------
 *
 * provider.c
 *	  The registry of providers: one GwProviderRoutine per cloud.  A new
 *	  provider is its own file, a value of GwProvider and one line here.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "gwresize.h"

static const GwProviderRoutine *const registry[] = {
	&gw_aliyun_routine,
	&gw_huawei_routine,
};

/* the provider of a validated id; an id we do not know is a bug */
const GwProviderRoutine *
gw_provider(GwProvider id)
{
	int			i;

	for (i = 0; i < lengthof(registry); i++)
		if (registry[i]->id == id)
			return registry[i];
	elog(ERROR, "unknown gwresize provider %d", (int) id);
	return NULL;				/* keep compiler quiet */
}

/* the provider of that name (the server option, gw_audit.provider), or NULL */
const GwProviderRoutine *
gw_provider_by_name(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(registry); i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const char *
gw_provider_name(GwProvider id)
{
	return gw_provider(id)->name;
}

/* "\"aliyun\" and \"huawei\"", for hints */
const char *
gw_provider_names(void)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < lengthof(registry); i++)
		appendStringInfo(&buf, "%s\"%s\"",
						 i == 0 ? "" : i == lengthof(registry) - 1 ? " and " : ", ",
						 registry[i]->name);
	return buf.data;
}

bool
gw_provider_has_option(const GwProviderRoutine *p, const char *name)
{
	const char *const *o;

	for (o = p->server_options; o && *o; o++)
		if (strcmp(*o, name) == 0)
			return true;
	return false;
}

/* the provider whose server option name is, or NULL */
const GwProviderRoutine *
gw_option_provider(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(registry); i++)
		if (gw_provider_has_option(registry[i], name))
			return registry[i];
	return NULL;
}

/* "; aliyun: signature; huawei: project_id, iam_endpoint", for hints */
const char *
gw_provider_option_names(void)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < lengthof(registry); i++)
	{
		const char *const *o;

		for (o = registry[i]->server_options; o && *o; o++)
			appendStringInfo(&buf, "%s%s", o == registry[i]->server_options ?
							 psprintf("; %s: ", registry[i]->name) : ", ", *o);
	}
	return buf.data;
}

/* each provider's settings, from _PG_init */
void
gw_provider_define_settings(void)
{
	int			i;

	for (i = 0; i < lengthof(registry); i++)
		if (registry[i]->define_settings)
			registry[i]->define_settings();
}
