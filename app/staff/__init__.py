"""Community staff and district organisers: setting up regions, sites, surveys and campaigns.

The console's pages come with the staff issue; the write operations live here already
because the command line and the demo use them.
"""
